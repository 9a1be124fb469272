//go:build race

package collector

// raceEnabled scales TestLoadAndLeaks down: the race detector makes each
// of 50 concurrent scrapes ~10x slower and its memory ~5x larger.
const raceEnabled = true
