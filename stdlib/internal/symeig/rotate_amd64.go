package symeig

import "golang.org/x/sys/cpu"

// useAVX selects the assembly rotation kernel (rotate_amd64.s). x/sys/cpu also checks that the
// OS saves the YMM registers.
var useAVX = cpu.X86.HasAVX

// rotStripAVX applies count rotations (rows idx[k], idx[k]+1; cosine and sine cs[2k], cs[2k+1])
// to the w columns (w a positive multiple of 4) starting at base, rows stride elements apart:
// rotateRows's operations, four columns per instruction.
//
//go:noescape
func rotStripAVX(base *float64, stride, w int, idx *int32, cs *float64, count int)
