package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
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

// indexPrefix is how every encoded op begins while its Index is 0: the
// index is the first field, so Append encodes outside the lock and splices
// the real index in under it.
const indexPrefix = `{"index":0,`

// Append assigns op the next index, writes it as one line and flushes it.
// It returns the index assigned. After the first write error every Append
// returns that error.
//
// The JSON encoding, most of an Append's cost, happens before the lock is
// taken, so concurrent workers encode in parallel and the lock covers only
// the index, the write and the flush: lines stay whole and in index order.
func (w *Writer) Append(op Op) (int64, error) {
	op.Index = 0
	b, err := json.Marshal(op)
	if err != nil {
		// Bad input: this op is refused, the writer stays usable.
		return 0, fmt.Errorf("history: append op: %w", err)
	}
	if len(b) < len(indexPrefix) || string(b[:len(indexPrefix)]) != indexPrefix {
		panic(fmt.Sprintf("history: encoded op does not start with %s: %.40s", indexPrefix, b)) // opJSON's field order changed
	}
	rest := b[len(indexPrefix):]
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	idx := w.next
	var num [24]byte
	line := append(append(append([]byte(`{"index":`), strconv.AppendInt(num[:0], idx, 10)...), ','), rest...)
	line = append(line, '\n')
	if _, err := w.bw.Write(line); err != nil {
		w.err = fmt.Errorf("history: write op %d: %w", idx, err)
		return 0, w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("history: flush op %d: %w", idx, err)
		return 0, w.err
	}
	w.next++
	return idx, nil
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
