//go:build race

package zab_test

// raceEnabled trims the randomized safety test under -race, which runs the
// cores about ten times slower; the full sweep runs without it.
const raceEnabled = true
