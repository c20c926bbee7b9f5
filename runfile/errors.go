package runfile

import "errors"

// ErrNotRunDir: the directory has no test.json.
var ErrNotRunDir = errors.New("runfile: not a run directory")

// ErrMalformed: the history's invokes and completions do not pair up (a
// completion without an invoke, two open invokes of one process, a
// completion of another f or before its invoke). No verdict drawn from it
// can be trusted.
var ErrMalformed = errors.New("runfile: malformed history")
