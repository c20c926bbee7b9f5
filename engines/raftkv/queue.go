package raftkv

import "sync"

// queue is an unbounded FIFO between goroutines of one server. The raft loop
// and the storage threads wait on each other (responses, conf changes), so a
// bounded channel between them could deadlock; the bounds come from raft
// instead (MaxUncommittedEntriesSize, MaxInflightMsgs, MaxCommittedSizePerReady).
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	notify chan struct{}
}

func newQueue[T any]() *queue[T] { return &queue[T]{notify: make(chan struct{}, 1)} }

func (q *queue[T]) push(x T) {
	q.mu.Lock()
	q.items = append(q.items, x)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// popAll takes everything queued, in order.
func (q *queue[T]) popAll() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// C is signalled after a push.
func (q *queue[T]) C() <-chan struct{} { return q.notify }
