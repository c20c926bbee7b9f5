package main

import (
	"flag"
	"time"

	"coordlab/engines/raftkv"
)

// authFlags declares etcd 3.4's auth flags on fs and returns what copies
// their values into a Config once fs is parsed. raftkv.Config.Validate
// checks them (token kind, bcrypt cost range).
func authFlags(fs *flag.FlagSet) func(*raftkv.Config) {
	token := fs.String("auth-token", "simple", "Specify auth token specific options: 'simple', or 'jwt,sign-method=RS256,priv-key=FILE,pub-key=FILE,ttl=5m'.")
	ttl := fs.Uint("auth-token-ttl", 300, "The lifetime in seconds of the auth token.")
	cost := fs.Uint("bcrypt-cost", 10, "Specify bcrypt algorithm cost factor for auth password hashing (4..31).")
	return func(c *raftkv.Config) {
		c.AuthToken = *token
		c.AuthTokenTTL = time.Duration(*ttl) * time.Second
		c.BcryptCost = int(min(*cost, 1<<16)) // 0: the default, 10
	}
}
