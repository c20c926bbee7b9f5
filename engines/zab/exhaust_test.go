package zab

import (
	"errors"
	"testing"
)

// TestZxidExhaustion: a leader refuses to assign counter 0xffffffff
// (ZOOKEEPER-1277) and steps down so that the next election opens an epoch.
func TestZxidExhaustion(t *testing.T) {
	n, err := NewNode(Config{ID: 1, Peers: []ServerID{1}, Storage: NewMemoryStorage()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n.HasReady() {
			n.Advance(n.Ready())
		}
		n.Tick()
	}
	if n.state != StateLeading || n.phase != PhaseBroadcast {
		t.Fatalf("single member: state %s %s, want LEADING broadcast", n.state, n.phase)
	}
	// Pretend the epoch already used every counter but the last one.
	n.log.append(Entry{Zxid: MakeZxid(n.epoch, maxCounter)})
	n.setCommitted(n.log.last())
	_, err = n.Propose([]byte("x"))
	if !errors.Is(err, ErrZxidExhausted) {
		t.Fatalf("Propose after counter %#x: got %v, want ErrZxidExhausted", uint32(maxCounter), err)
	}
	if n.state != StateLooking {
		t.Fatalf("after exhaustion: state %s, want LOOKING", n.state)
	}
}
