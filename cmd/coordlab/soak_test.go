package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSoakCommandErrors(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"soak", "--engines", "etcd"}, `--engines: "etcd": want raftkv, zab or both`},
		{[]string{"soak", "--time", "0"}, "want --time > 0 or --rounds > 0"},
		{[]string{"soak", "--rounds", "1", "--bin-dir", "/nonexistent/bin", "--engines", "zab", "--dir", t.TempDir()}, "make build"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := execute(c.args, &out, &errb); code != exitFailed || !strings.Contains(errb.String(), c.wantErr) {
			t.Errorf("coordlab %v: code %d, stderr %q; want %d and %q", c.args, code, errb.String(), exitFailed, c.wantErr)
		}
	}
}
