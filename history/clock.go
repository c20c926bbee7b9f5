package history

import "time"

// Clock gives Op.Time: monotonic nanoseconds since the clock was made. Take
// an invoke's time just before the request leaves and a completion's time
// just after the answer arrives, from the same Clock, so real-time order in
// the history never claims more than what happened.
type Clock struct{ start time.Time }

// NewClock starts a clock at zero now.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now returns nanoseconds since the clock started (monotonic: time.Since uses
// the monotonic reading of start).
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }
