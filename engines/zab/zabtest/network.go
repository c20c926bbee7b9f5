package zabtest

import (
	"fmt"
	"math/rand"
	"slices"

	"coordlab/engines/zab"
)

// NetOptions are the network's faults. The zero value is a perfect FIFO network.
type NetOptions struct {
	// DropRate is the probability that a message is lost.
	DropRate float64
	// DupRate is the probability that a message is delivered twice.
	DupRate float64
	// MaxDelayTicks delays each message by a uniform 0..MaxDelayTicks ticks.
	MaxDelayTicks int
	// Reorder delivers the messages due to one member in random order instead
	// of send order.
	Reorder bool
}

type envelope struct {
	raw  []byte // the encoded message: the codec is exercised on every send
	to   zab.ServerID
	due  int64
	seq  uint64
	from zab.ServerID
}

// network holds messages in flight.
type network struct {
	opts    NetOptions
	rand    *rand.Rand
	now     int64
	seq     uint64
	queue   []envelope
	cut     map[[2]zab.ServerID]bool
	dropped int
}

func (nw *network) send(m zab.Message) {
	if nw.cut[[2]zab.ServerID{m.From, m.To}] {
		nw.dropped++
		return
	}
	if nw.opts.DropRate > 0 && nw.rand.Float64() < nw.opts.DropRate {
		nw.dropped++
		return
	}
	copies := 1
	if nw.opts.DupRate > 0 && nw.rand.Float64() < nw.opts.DupRate {
		copies = 2
	}
	raw := m.Marshal()
	for range copies {
		due := nw.now
		if nw.opts.MaxDelayTicks > 0 {
			due += int64(nw.rand.Intn(nw.opts.MaxDelayTicks + 1))
		}
		nw.seq++
		nw.queue = append(nw.queue, envelope{raw: raw, to: m.To, from: m.From, due: due, seq: nw.seq})
	}
}

// take removes and returns the messages due now for to (all if to is 0).
func (nw *network) take(to zab.ServerID) []zab.Message {
	var due []envelope
	kept := nw.queue[:0]
	for _, e := range nw.queue {
		if e.due <= nw.now && (to == 0 || e.to == to) {
			due = append(due, e)
		} else {
			kept = append(kept, e)
		}
	}
	nw.queue = kept
	if nw.opts.Reorder {
		nw.rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	}
	out := make([]zab.Message, 0, len(due))
	for _, e := range due {
		if nw.cut[[2]zab.ServerID{e.from, e.to}] {
			nw.dropped++
			continue // partitioned while in flight
		}
		m, err := zab.UnmarshalMessage(e.raw)
		if err != nil {
			panic(fmt.Sprintf("zabtest: message does not decode: %v", err))
		}
		out = append(out, m)
	}
	return out
}

// dropFor discards every message in flight to or from id.
func (nw *network) dropFor(id zab.ServerID) int {
	n := 0
	kept := nw.queue[:0]
	for _, e := range nw.queue {
		if e.to == id || e.from == id {
			n++
			continue
		}
		kept = append(kept, e)
	}
	nw.queue = kept
	nw.dropped += n
	return n
}

func (nw *network) pendingFor(id zab.ServerID) bool {
	return slices.ContainsFunc(nw.queue, func(e envelope) bool { return e.to == id && e.due <= nw.now })
}
