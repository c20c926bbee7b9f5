package main

import (
	"strings"
	"testing"
	"time"
)

// The auth and txn-limit flags take etcd's names and defaults and refuse
// what raftkv cannot honour with a message naming the flag.
func TestAuthAndLimitFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := o.member; m.AuthToken != "simple" || m.AuthTokenTTL != 300*time.Second || m.BcryptCost != 10 || m.MaxTxnOps != 128 {
		t.Fatalf("defaults: token %q ttl %v cost %d max-txn-ops %d, want simple 5m0s 10 128", m.AuthToken, m.AuthTokenTTL, m.BcryptCost, m.MaxTxnOps)
	}
	o, err = parseFlags([]string{"--auth-token-ttl", "7", "--bcrypt-cost", "4", "--max-txn-ops", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if m := o.member; m.AuthTokenTTL != 7*time.Second || m.BcryptCost != 4 || m.MaxTxnOps != 3 {
		t.Fatalf("set: ttl %v cost %d max-txn-ops %d, want 7s 4 3", m.AuthTokenTTL, m.BcryptCost, m.MaxTxnOps)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth-token", "jwt,pub-key=/nonexistent,sign-method=RS256"}, "--auth-token jwt: pub-key: open /nonexistent"},
		{[]string{"--auth-token", "jwt"}, "--auth-token jwt: sign-method=\"\": auth: invalid auth signature method"},
		{[]string{"--auth-token", "jwt,sign-method=RS256,colour=blue"}, "unknown option \"colour\""},
		{[]string{"--auth-token", "simple,ttl=5m"}, "--auth-token simple takes no options"},
		{[]string{"--auth-token", "oauth"}, "auth: invalid auth options"},
		{[]string{"--bcrypt-cost", "3"}, "--bcrypt-cost: want 4..31, got 3"},
		{[]string{"--bcrypt-cost", "32"}, "--bcrypt-cost: want 4..31, got 32"},
		{[]string{"--max-txn-ops", "0"}, "--max-txn-ops"},
		{[]string{"--auth-token-ttl", "-1"}, "auth-token-ttl"},
	} {
		if _, err := parseFlags(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseFlags(%q): %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
