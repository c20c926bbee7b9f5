package jute_test

import (
	"bytes"
	"fmt"

	"coordlab/engines/zab/jute"
)

// A server's read-decode-reply step: read one frame, decode the request,
// and answer it (here: a create, answered with its path).
func Example() {
	// What go-zk sends for Create("/app", "v0", PERSISTENT, world:anyone).
	wire := jute.AppendRequest(nil, jute.RequestHeader{Xid: 1, Type: jute.OpCreate},
		&jute.CreateRequest{Path: "/app", Data: []byte("v0"), ACL: jute.OpenACLUnsafe()})

	body, err := jute.ReadFrame(bytes.NewReader(wire), nil, jute.DefaultMaxBuffer)
	if err != nil {
		fmt.Println("close connection:", err)
		return
	}
	hdr, rec, err := jute.DecodeRequest(body)
	if err != nil {
		fmt.Println("close connection:", err)
		return
	}
	create := rec.(*jute.CreateRequest)
	fmt.Printf("xid %d %v %s %q flags %d\n", hdr.Xid, hdr.Type, create.Path, create.Data, create.Flags)

	reply := jute.AppendReply(nil, jute.ReplyHeader{Xid: hdr.Xid, Zxid: 2}, &jute.CreateResponse{Path: create.Path})
	fmt.Printf("reply %d bytes\n", len(reply))

	// A frame over the limit is refused before its body is read.
	_, err = jute.ReadFrame(bytes.NewReader([]byte{0x7f, 0, 0, 0}), nil, jute.DefaultMaxBuffer)
	fmt.Println(err)
	// Output:
	// xid 1 create /app "v0" flags 0
	// reply 28 bytes
	// jute: decode frame.length at offset 0: length 2130706432 exceeds max buffer 1048575 (raise jute.maxbuffer on both sides to allow it)
}
