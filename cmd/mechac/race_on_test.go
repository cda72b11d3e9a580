//go:build race

package main

// raceEnabled: the tests run under the race detector (see the tests that skip on it).
const raceEnabled = true
