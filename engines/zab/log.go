package zab

import (
	"fmt"
	"sort"
)

// memLog is the in-memory tail of the log: every entry above base. base is
// the zxid just below the first entry (0, a snapshot's zxid, or the last entry
// trimmed). It always holds every entry above the applied zxid, plus up to
// Config.MaxCommittedLog applied ones (for DIFF).
type memLog struct {
	base    Zxid
	entries []Entry
}

func (l *memLog) last() Zxid {
	if n := len(l.entries); n > 0 {
		return l.entries[n-1].Zxid
	}
	return l.base
}

// index returns the position of the first entry with zxid > z.
func (l *memLog) after(z Zxid) int {
	return sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > z })
}

// contains reports whether z is a point in this log's history: base or an entry.
func (l *memLog) contains(z Zxid) bool {
	if z == l.base {
		return true
	}
	if z < l.base {
		return false
	}
	i := l.after(z)
	return i > 0 && l.entries[i-1].Zxid == z
}

// slice returns up to max entries with zxid > z. z must be >= base.
func (l *memLog) slice(z Zxid, max int) []Entry {
	if z < l.base {
		panic(fmt.Sprintf("zab: log slice after %s below base %s", z, l.base))
	}
	i := l.after(z)
	j := len(l.entries)
	if max > 0 && j-i > max {
		j = i + max
	}
	return l.entries[i:j:j]
}

// countAfter returns the number of entries with zxid > z.
func (l *memLog) countAfter(z Zxid) int { return len(l.entries) - l.after(z) }

func (l *memLog) append(e Entry) {
	if last := l.last(); e.Zxid <= last {
		panic(fmt.Sprintf("zab: zxid not increasing: append %s after %s", e.Zxid, last))
	}
	l.entries = append(l.entries, e)
}

// truncate drops entries with zxid > z.
func (l *memLog) truncate(z Zxid) {
	l.entries = l.entries[:l.after(z)]
}

// reset replaces the log by an empty one above z (a snapshot).
func (l *memLog) reset(z Zxid) {
	l.base = z
	l.entries = nil
}

// trim drops entries at or below upTo beyond the newest keep of them.
func (l *memLog) trim(upTo Zxid, keep int) {
	n := l.after(upTo) // entries <= upTo
	if drop := n - keep; drop > 0 {
		l.base = l.entries[drop-1].Zxid
		// Copy when the dropped prefix dominates, so the array does not pin it.
		if drop > len(l.entries)/2 {
			l.entries = append([]Entry(nil), l.entries[drop:]...)
		} else {
			l.entries = l.entries[drop:]
		}
	}
}
