//go:build race

package simulator

// raceEnabled relaxes timing assertions: the race detector slows code ~10x.
const raceEnabled = true
