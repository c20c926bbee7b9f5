// Package jute is the ZooKeeper client wire codec: the length-prefixed
// framing, the jute primitives (int, long, boolean, buffer, ustring,
// vector), and every record a ZooKeeper 3.8 client (Debian's zkCli.sh, the
// Java client API, github.com/go-zookeeper/zk v1.0.4) sends or expects.
//
// It exists so that engines/zab/server can speak ZooKeeper's protocol to
// unchanged clients, and so that the byte layout is tested in one place:
// against frames captured between real ZooKeeper 3.8.0 and those clients
// (testdata/frames; its README.md tells how they were captured and decodes
// them field by field), and by fuzzers that decode, re-encode and decode
// again.
//
// # Contract
//
//   - A frame is a 4-byte big-endian length followed by that many bytes.
//     ReadFrame rejects a negative length or one above the caller's
//     MaxBuffer (DefaultMaxBuffer, ZooKeeper's jute.maxbuffer default) with a
//     *DecodeError before reading the body, so a hostile peer cannot make the
//     server allocate more than MaxBuffer bytes per connection.
//   - The first client frame is a ConnectRequest (no header), answered by a
//     ConnectResponse. The Java client appends a readOnly byte; go-zk does
//     not. HasReadOnly records which, and the server mirrors it in the reply.
//   - Every later request is RequestHeader + body (DecodeRequest picks the
//     body's record type from the opcode); every reply is ReplyHeader + body,
//     and the body is omitted when ReplyHeader.Err is not ZOK (AppendReply
//     does that). A multi reply always has Err ZOK: failures are per op.
//   - Decoding never panics and never reads past its input: every malformed
//     input gives a *DecodeError naming the record, the field, the offset and
//     what was wrong. Trailing bytes after a request body are an error too
//     (except after ConnectRequest's optional readOnly byte, see above).
//   - Encoders append to a caller-owned []byte and allocate nothing else, so
//     the server can reuse one buffer per connection.
//   - Null vs empty: a buffer or vector of length -1 decodes to nil and a nil
//     slice encodes as -1; length 0 decodes to a non-nil empty slice and
//     encodes as 0, so captured frames re-encode byte for byte. A null
//     ustring (-1) decodes to "" (Go strings have no null) and "" encodes as
//     length 0.
//
// # Testing
//
// TestGoldenFrames decodes the 49 captured frames, checks their fields and
// re-encodes them byte for byte; TestAgainstZooKeeper sends every request
// type to a live ZooKeeper 3.8 (needs java and Debian's zookeeper; skipped
// without them unless CI=true) and requires each reply to decode and
// re-encode to ZooKeeper's exact bytes; the fuzzers (FuzzDecodeRequest,
// FuzzDecodeReply, FuzzDecodeConnect) check decode, encode, decode round
// trips, seeded with the frames and testdata/fuzz.
//
// # Caveats
//
//   - sasl (102) is not decoded: DecodeRequest returns the
//     header and an error wrapping ErrUnknownOp, and the server answers
//     ZUNIMPLEMENTED, as ZooKeeper does for opcodes it does not know.
//   - Strings are not checked for valid UTF-8 (ZooKeeper does not either);
//     path validation is the tree's job (znode.ValidatePath).
//   - ZooKeeper 3.8.0 sends watch notifications with ReplyHeader.Zxid = -1
//     (see the golden frame gozk-10); newer servers send the txn's zxid.
//     Which one to send is the server's choice.
package jute
