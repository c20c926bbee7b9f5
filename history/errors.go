package history

import "errors"

var (
	// ErrTruncated reports a history whose last line is incomplete (the
	// writer died mid-line). The ops before it are returned with the error.
	ErrTruncated = errors.New("history: last line truncated")
	// ErrBadIndex reports an op whose index is not its line position.
	ErrBadIndex = errors.New("history: op index does not match its line position")
	// ErrClosed is returned by Append on a closed Writer.
	ErrClosed = errors.New("history: writer closed")
)
