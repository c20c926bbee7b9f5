package reports

import "errors"

// ErrNoRuns is returned by FindRuns (and RenderIndex) for a folder that is
// not a run directory and holds none.
var ErrNoRuns = errors.New("reports: no run directories (with test.json)")
