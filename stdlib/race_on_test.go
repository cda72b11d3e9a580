//go:build race

package stdlib

// raceEnabled: the tests run under the race detector, whose sync.Pool drops what is put in it
// at random (so that code cannot rely on reuse): allocation counts are then not a kernel's.
const raceEnabled = true
