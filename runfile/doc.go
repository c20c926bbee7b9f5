// Package runfile is what a run directory holds, for every package that
// writes or reads one: the schema of test.json (File, with the run's Spec),
// the one set of defaults a run gets (Default), and the pairing of the
// history's invoke lines with their completions (Pair).
//
// It is a leaf: it imports only history, so run (which writes a run
// directory), analysis and reports (which read one) and the CLI share it
// without importing each other.
//
// Caveats:
//   - Spec's Rate, Unfenced and BinDir have meaningful zero values (0 ops/s
//     is unlimited), so WithDefaults leaves them alone: a Spec that should
//     get the default rate starts from Default(), as the CLI's flags and a
//     suite file's entries do.
//   - test.json's fault schedule is kept as raw JSON here: its type belongs
//     to the faults package, which this leaf does not import.
package runfile
