//go:build !amd64

package num

import "github.com/mechac/mechac/ops"

func subKeysFast(dst []uint32, a, b []byte, d ops.DType) bool { return false }
