package mvcc

import (
	"bytes"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

func TestAppendKVMatchesProtoMarshal(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 300)
	cases := []*mvccpb.KeyValue{
		{Key: []byte("k")},
		{Key: []byte("k"), Value: []byte("v"), CreateRevision: 1, ModRevision: 2, Version: 3, Lease: 4},
		{Key: []byte("key"), Value: big, CreateRevision: 1 << 40, ModRevision: 1<<62 + 5, Version: 200, Lease: -1},
		{Key: []byte("k"), ModRevision: 7},
		{Key: []byte("k"), Value: []byte{}, Lease: 9},
	}
	for _, kv := range cases {
		want, err := proto.Marshal(kv)
		if err != nil {
			t.Fatal(err)
		}
		got, at := appendKV(nil, kv, kv.Value)
		if !bytes.Equal(got, want) || len(got) != kvSize(kv, kv.Value) {
			t.Fatalf("%s: appendKV = %x (size %d), proto.Marshal = %x", kvString(kv), got, kvSize(kv, kv.Value), want)
		}
		if !bytes.Equal(got[at:at+len(kv.Value)], kv.Value) {
			t.Fatalf("%s: valueAt %d does not point at the value", kvString(kv), at)
		}
	}
}
