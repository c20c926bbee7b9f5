package jute

import (
	"errors"
	"strconv"
)

// ErrUnknownOp is wrapped by the error DecodeRequest and DecodeReply return
// for an opcode this codec does not decode. The header was decoded, so the
// server can still answer the request (with ZUNIMPLEMENTED).
var ErrUnknownOp = errors.New("jute: unknown opcode")

// DecodeError is what every decoder returns for malformed input: which
// record and field was being read, at which byte offset of the payload, and
// what was wrong with it. The server logs it and closes that one connection.
type DecodeError struct {
	Record  string // the record being decoded, e.g. "CreateRequest" or "frame"
	Field   string // the field being read, e.g. "path" or "length"
	Offset  int    // byte offset into the payload (the frame body) where the field starts
	Problem string // what was wrong, e.g. "length 2000000 exceeds max buffer 1048575"
}

func (e *DecodeError) Error() string {
	return "jute: decode " + e.Record + "." + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Problem
}
