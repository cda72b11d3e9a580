//go:build race

package vm

// raceEnabled: the tests run under the race detector (see the tests that skip on it).
const raceEnabled = true
