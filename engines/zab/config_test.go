package zab

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		c := DefaultConfig()
		c.ID, c.Peers, c.Storage = 1, []ServerID{1, 2, 3}, NewMemoryStorage()
		return c
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero limits take defaults", func(c *Config) { c.MaxBatchEntries, c.InitLimitTicks = 0, 0 }, ""},
		{"no id", func(c *Config) { c.ID = 0 }, "ID:"},
		{"no peers", func(c *Config) { c.Peers = nil }, "Peers:"},
		{"id not a peer", func(c *Config) { c.ID = 4 }, "want ID 4 among Peers"},
		{"duplicate peer", func(c *Config) { c.Peers = []ServerID{1, 2, 2} }, "listed twice"},
		{"zero peer", func(c *Config) { c.Peers = []ServerID{1, 0} }, "id 0"},
		{"no storage", func(c *Config) { c.Storage = nil }, "Storage:"},
		{"negative limit", func(c *Config) { c.MaxOutstandingProposals = -1 }, "MaxOutstandingProposals"},
		{"sync limit too small", func(c *Config) { c.SyncLimitTicks = 1 }, "SyncLimitTicks"},
		{"init below sync", func(c *Config) { c.InitLimitTicks, c.SyncLimitTicks = 3, 5 }, "InitLimitTicks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
}
