package v3rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"progress interval", func(c *Config) { c.ProgressNotifyInterval = 0 }, "ProgressNotifyInterval"},
		{"watch response bytes", func(c *Config) { c.MaxWatchResponseBytes = 10 }, "MaxWatchResponseBytes"},
		{"leader check", func(c *Config) { c.LeaderCheckInterval = -time.Second }, "LeaderCheckInterval"},
		{"range stream chunk", func(c *Config) { c.RangeStreamChunkBytes = 0 }, "RangeStreamChunkBytes"},
		{"snapshot chunk", func(c *Config) { c.SnapshotChunkBytes = 0 }, "SnapshotChunkBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestToGRPC(t *testing.T) {
	tests := []struct {
		name string
		in   error
		want error
	}{
		{"etcd error unchanged", rpctypes.ErrGRPCNoLeader, rpctypes.ErrGRPCNoLeader},
		{"wrapped etcd error keeps etcd's message", fmt.Errorf("propose: %w", rpctypes.ErrGRPCTimeout), rpctypes.ErrGRPCTimeout},
		{"compacted error from the store", &mvcc.CompactedError{CompactRevision: 5}, rpctypes.ErrGRPCCompacted},
		{"canceled", context.Canceled, rpctypes.ErrGRPCCanceled},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), rpctypes.ErrGRPCDeadlineExceeded},
		{"other", errors.New("disk on fire"), status.Error(codes.Unknown, "disk on fire")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toGRPC(tt.in); !sameStatus(got, tt.want) {
				t.Fatalf("toGRPC(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if toGRPC(nil) != nil {
		t.Fatal("toGRPC(nil) != nil")
	}
}

// TestRequestChecks: requests etcd refuses before proposing, over the wire.
func TestRequestChecks(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	kv := pb.NewKVClient(cli.ActiveConnection())
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"put ignore_value with a value", func() error {
			_, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), IgnoreValue: true})
			return err
		}, rpctypes.ErrGRPCValueProvided},
		{"put ignore_lease with a lease", func() error {
			_, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k"), Lease: 5, IgnoreLease: true})
			return err
		}, rpctypes.ErrGRPCLeaseProvided},
		{"range bad sort order", func() error {
			_, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k"), SortOrder: 9})
			return err
		}, rpctypes.ErrGRPCInvalidSortOption},
		{"range bad sort target", func() error {
			_, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k"), SortTarget: 9})
			return err
		}, rpctypes.ErrGRPCInvalidSortOption},
		{"range empty key", func() error {
			_, err := kv.Range(ctx, &pb.RangeRequest{})
			return err
		}, rpctypes.ErrGRPCEmptyKey},
		{"delete empty key", func() error {
			_, err := kv.DeleteRange(ctx, &pb.DeleteRangeRequest{})
			return err
		}, rpctypes.ErrGRPCEmptyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !sameStatus(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Hash (no clientv3 wrapper) changes with the data.
	m := pb.NewMaintenanceClient(cli.ActiveConnection())
	h1, err := m.Hash(ctx, &pb.HashRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "hash", h1.Header, 1)
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	h2, err := m.Hash(ctx, &pb.HashRequest{})
	if err != nil || h2.Hash == h1.Hash {
		t.Fatalf("hash after a put: %v %v, want a hash different from %x", h2, err, h1.Hash)
	}
}
