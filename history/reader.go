package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxLineBytes bounds one history line (a watch op with many events can be
// long); a longer line is an error naming the line.
const maxLineBytes = 64 << 20

// Reader reads a history one op at a time.
type Reader struct {
	br   *bufio.Reader
	line int64 // lines read so far
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next op, io.EOF at the end, or an error naming the line.
// A last line without its newline that does not parse is ErrTruncated. Blank
// lines are skipped. Each op's Index must equal its position (0-based count
// of ops before it), else ErrBadIndex.
func (r *Reader) Next() (Op, error) {
	for {
		b, err := r.readLine()
		if err == io.EOF && len(b) == 0 {
			return Op{}, io.EOF
		}
		if err != nil && err != io.EOF {
			return Op{}, fmt.Errorf("history: line %d: %w", r.line+1, err)
		}
		last := err == io.EOF // a final line with no newline
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			if last {
				return Op{}, io.EOF
			}
			continue
		}
		var op Op
		if uerr := json.Unmarshal(b, &op); uerr != nil {
			if last {
				return Op{}, fmt.Errorf("%w: line %d: %v", ErrTruncated, r.line+1, uerr)
			}
			return Op{}, fmt.Errorf("history: line %d: %w", r.line+1, uerr)
		}
		if op.Index != r.line {
			return Op{}, fmt.Errorf("%w: line %d has index %d, want %d", ErrBadIndex, r.line+1, op.Index, r.line)
		}
		r.line++
		return op, nil
	}
}

func (r *Reader) readLine() ([]byte, error) {
	var buf []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(buf)+len(frag) > maxLineBytes {
			return nil, fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, frag...)
			continue
		}
		if buf == nil {
			return frag, err
		}
		return append(buf, frag...), err
	}
}

// Read reads a whole history file. On ErrTruncated it returns the ops read
// before the cut line together with the error.
func Read(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	defer f.Close()
	ops, err := ReadAll(f)
	if err != nil {
		return ops, fmt.Errorf("%s: %w", path, err)
	}
	return ops, nil
}

// ReadAll reads every op from r; see Read.
func ReadAll(r io.Reader) ([]Op, error) {
	rd := NewReader(r)
	var ops []Op
	for {
		op, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return ops, nil
		}
		if err != nil {
			if errors.Is(err, ErrTruncated) {
				return ops, err
			}
			return nil, err
		}
		ops = append(ops, op)
	}
}
