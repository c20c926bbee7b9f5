package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer appends ops to a history, one JSON line each, assigning Index.
// It is safe for concurrent use: each Append writes and flushes one whole
// line under a mutex, so lines never interleave.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	closer io.Closer // the file opened by Create; nil for NewWriter
	next   int64
	err    error // first write error; sticky
	closed bool
}

// NewWriter returns a Writer appending to w. Close flushes but does not close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 4096)}
}

// Create creates (or truncates) the file at path and returns a Writer on it.
// Close closes the file.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("history: create %s: %w", path, err)
	}
	w := NewWriter(f)
	w.closer = f
	return w, nil
}

// Append assigns op the next index, writes it as one line and flushes it.
// It returns the index assigned. After the first write error every Append
// returns that error.
func (w *Writer) Append(op Op) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	op.Index = w.next
	b, err := json.Marshal(op)
	if err != nil {
		// Bad input: this op is refused, the writer stays usable.
		return 0, fmt.Errorf("history: append op: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("history: write op %d: %w", op.Index, err)
		return 0, w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("history: flush op %d: %w", op.Index, err)
		return 0, w.err
	}
	w.next++
	return op.Index, nil
}

// Len returns how many ops were appended.
func (w *Writer) Len() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Close flushes and, for a Writer from Create, closes the file. It can be
// called more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.bw.Flush()
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("history: close: %w", err)
	}
	return w.err
}
