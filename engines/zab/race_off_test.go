//go:build !race

package zab_test

const raceEnabled = false
