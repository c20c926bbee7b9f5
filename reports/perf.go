package reports

// PerfDir is the folder, under a bench's output, of the performance
// section's clusters and perf.json.
const PerfDir = "perf"
