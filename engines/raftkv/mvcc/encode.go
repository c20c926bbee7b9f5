package mvcc

import (
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// The apply path encodes mvccpb.KeyValue by hand: the bytes are what proto.Marshal
// writes (fields in number order, zero values left out, as proto3 does; a test checks the
// equality), but one allocation holds the bucket key and the encoded value, and the
// key-value's Value can point into the encoded bytes instead of being copied again.

// KeyValue field numbers (api/mvccpb/kv.proto).
const (
	fieldKey            = 1
	fieldCreateRevision = 2
	fieldModRevision    = 3
	fieldVersion        = 4
	fieldValue          = 5
	fieldLease          = 6
)

func varintFieldSize(num protowire.Number, v int64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

func bytesFieldSize(num protowire.Number, b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(b))
}

// kvSize is the encoded size of kv with the given value.
func kvSize(kv *mvccpb.KeyValue, value []byte) int {
	return bytesFieldSize(fieldKey, kv.Key) +
		varintFieldSize(fieldCreateRevision, kv.CreateRevision) +
		varintFieldSize(fieldModRevision, kv.ModRevision) +
		varintFieldSize(fieldVersion, kv.Version) +
		bytesFieldSize(fieldValue, value) +
		varintFieldSize(fieldLease, kv.Lease)
}

func appendVarintField(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// appendKV appends kv, with value as its Value, encoded; valueAt is where value starts
// in the result.
func appendKV(b []byte, kv *mvccpb.KeyValue, value []byte) (out []byte, valueAt int) {
	if len(kv.Key) > 0 {
		b = protowire.AppendTag(b, fieldKey, protowire.BytesType)
		b = protowire.AppendBytes(b, kv.Key)
	}
	b = appendVarintField(b, fieldCreateRevision, kv.CreateRevision)
	b = appendVarintField(b, fieldModRevision, kv.ModRevision)
	b = appendVarintField(b, fieldVersion, kv.Version)
	valueAt = len(b)
	if len(value) > 0 {
		b = protowire.AppendTag(b, fieldValue, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(len(value)))
		valueAt = len(b)
		b = append(b, value...)
	}
	b = appendVarintField(b, fieldLease, kv.Lease)
	return b, valueAt
}
