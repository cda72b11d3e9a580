//go:build !amd64

package symeig

// useAVX: the assembly kernel exists for amd64 only.
const useAVX = false

func rotStripAVX(*float64, int, int, *int32, *float64, int) { panic("symeig: no assembly kernel") }
