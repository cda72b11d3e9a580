//go:build !amd64

package rng

func vectorTwist(s *[mtN]uint32) bool { return false }

func vectorFloat64s(dst []float64, words []uint32) int { return 0 }

func vectorFloat32s(dst []float64, words []uint32) int { return 0 }

func hasVectorKernels() bool { return false }
