package znode

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"coordlab/engines/zab/jute"
)

var sampleTxns = []Txn{
	{Type: TxnCreateSession, Session: s1, Time: 5, Timeout: 30000},
	{Type: TxnCloseSession, Session: s1, Cxid: 9, Time: 6},
	{Type: TxnCreate, Session: s1, Cxid: 1, Time: 1795843059214, Path: "/cap", Data: []byte("v0"), ACL: jute.OpenACLUnsafe(), Kind: KindPersistent, ParentCVersion: 1},
	{Type: TxnCreate, Session: s1, Path: "/t", Data: []byte{}, Kind: KindTTL, TTL: MaxTTL, ParentCVersion: -7},
	{Type: TxnDelete, Path: "/cap"},
	{Type: TxnSetData, Session: -1, Cxid: -2147483648, Time: -1, Path: "/cap", Data: nil, Version: 2147483647},
	{Type: TxnSetACL, Path: "/cap", ACL: []jute.ACL{{Perms: 1, ID: jute.Id{Scheme: "digest", ID: "u:x"}}}, Version: 3},
	{Type: TxnCheck, Path: "/cap", Version: -1},
	{Type: TxnError, Err: jute.ZNODEEXISTS},
	{Type: TxnMulti, Session: s2, Ops: []Txn{
		{Type: TxnCreate, Session: s2, Path: "/m", Kind: KindEphemeral, ParentCVersion: 2},
		{Type: TxnError, Err: jute.ZRUNTIMEINCONSISTENCY},
	}},
}

func TestTxnMarshalRoundTrip(t *testing.T) {
	for _, txn := range sampleTxns {
		b := txn.Marshal()
		got, err := UnmarshalTxn(b)
		if err != nil {
			t.Fatalf("UnmarshalTxn(%+v): %v", txn, err)
		}
		if !reflect.DeepEqual(*got, txn) {
			t.Fatalf("round trip\n got %+v\nwant %+v", *got, txn)
		}
	}
}

func TestTxnUnmarshalErrors(t *testing.T) {
	good := sampleTxns[2].Marshal()
	nested := (&Txn{Type: TxnMulti, Ops: []Txn{{Type: TxnMulti}}}).Marshal()
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad format", append([]byte{9}, good[1:]...)},
		{"unknown type", []byte{txnFormat, 99, 0, 0, 0}},
		{"truncated", good[:len(good)-3]},
		{"trailing", append(bytes.Clone(good), 1)},
		{"multi in multi", nested},
		{"huge op count", []byte{txnFormat, byte(TxnMulti), 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"bad kind", []byte{txnFormat, byte(TxnCreate), 0, 0, 0, 2, '/', 'a', 0, 0, 9, 0, 0}},
	}
	for _, tt := range tests {
		if _, err := UnmarshalTxn(tt.in); !errors.Is(err, ErrCorruptTxn) {
			t.Errorf("%s: UnmarshalTxn(%x) = %v, want ErrCorruptTxn", tt.name, tt.in, err)
		}
	}
}

// FuzzUnmarshalTxn: whatever decodes re-encodes to bytes that decode to
// the same txn and encode to the same bytes.
func FuzzUnmarshalTxn(f *testing.F) {
	for _, txn := range sampleTxns {
		f.Add(txn.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		txn, err := UnmarshalTxn(b)
		if err != nil {
			return
		}
		enc := txn.Marshal()
		again, err := UnmarshalTxn(enc)
		if err != nil {
			t.Fatalf("re-encoded txn does not decode: %v\n%+v", err, txn)
		}
		if enc2 := again.Marshal(); !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs\n%x\n%x", enc, enc2)
		}
	})
}
