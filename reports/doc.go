// Package reports turns what a run leaves behind (test.json, history.jsonl,
// results.json) into pages a person reads before any log: a run page
// (report.html: the spec, the verdict in one line, each anomaly with its
// operations linked into a per-process timeline, plots of latency over time
// with the fault windows shaded and labelled, latency quantiles and
// throughput over time, unavailability per fault, staleness, member logs), a
// comparison page (the same workload and fault schedule across targets, side
// by side, with ratios against a baseline and overlaid plots), and an index
// of every run in a results folder.
//
// A report is a function of files: nothing here talks to a cluster, so a
// stored run can be rendered again at any time (`coordlab report DIR...`).
// Pages come from html/template and carry their plots inline as SVG data
// URIs, so a page opens with no network and no other file; the SVG and a PNG
// of each plot are also written under plots/ beside the page.
//
// Caveats:
//   - The timeline draws at most 20,000 operations; past that it keeps a
//     regular sample plus every operation an anomaly names, and says so.
//   - Latency axes are logarithmic (the comparison's percentile plot too,
//     with percentiles spaced by their nines as HdrHistogram's plots are),
//     so latencies below 0.01 ms are drawn at 0.01 ms. Legends sit outside
//     the plot area, on the right.
package reports
