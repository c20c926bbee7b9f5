package jute

import "testing"

// BenchmarkDecodeSetData is the server's per-request decode for the
// benchmark's 256-byte setData.
func BenchmarkDecodeSetData(b *testing.B) {
	frame := AppendRequest(nil, RequestHeader{Xid: 7, Type: OpSetData}, &SetDataRequest{Path: "/bench/key-0001", Data: make([]byte, 256), Version: -1})
	body := frame[4:]
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, _, err := DecodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSetDataReply is the matching reply encode into a reused
// buffer.
func BenchmarkAppendSetDataReply(b *testing.B) {
	resp := &StatResponse{Stat: Stat{Czxid: 1, Mzxid: 2, Version: 3, DataLength: 256}}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReply(buf[:0], ReplyHeader{Xid: 7, Zxid: 2}, resp)
	}
}
