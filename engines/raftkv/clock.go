package raftkv

import (
	"sync/atomic"
	"time"
)

// skewClock is the lease clock: a base Clock shifted by an offset that the
// lab's clock-skew fault sets through POST /admin/clock on the admin listener
// (Server.AdminHandler).
type skewClock struct {
	base   Clock
	offset atomic.Int64 // nanoseconds
}

func (c *skewClock) Now() time.Time { return c.base.Now().Add(time.Duration(c.offset.Load())) }

// SetOffset shifts the lease clock by d from the base clock.
func (c *skewClock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }

// Offset is the current shift.
func (c *skewClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }
