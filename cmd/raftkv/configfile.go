package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// loadConfigFile sets fs from an etcd 3.4 YAML configuration file
// (etcd.conf.yml.sample's keys): each top-level key is the flag of the same
// name; client-transport-security and peer-transport-security hold cert-file,
// key-file, client-cert-auth, trusted-ca-file and auto-tls (the peer ones
// set the --peer-* flags). A key left empty keeps the flag's default, as
// etcd's loader does. Durations are nanoseconds (etcd decodes them into
// time.Duration) or Go durations like "100ms". Keys etcd's loader would
// not read are reported in unknown (etcd skips them silently).
func loadConfigFile(fs *flag.FlagSet, path string) (set map[string]bool, unknown []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--config-file: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("--config-file %s: %v", path, err)
	}
	set = map[string]bool{}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	apply := func(key, name string, val any) error {
		if val == nil {
			return nil
		}
		f := fs.Lookup(name)
		if f == nil || name == "config-file" || name == "version" || isIgnored(name) {
			unknown = append(unknown, key)
			return nil
		}
		s, err := yamlValue(f, val)
		if err != nil {
			return fmt.Errorf("--config-file %s: %s: %v", path, key, err)
		}
		if err := fs.Set(name, s); err != nil {
			return fmt.Errorf("--config-file %s: %s: invalid value %q: %v", path, key, s, err)
		}
		set[name] = true
		return nil
	}
	for _, k := range keys {
		v := doc[k]
		switch k {
		case "client-transport-security", "peer-transport-security":
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("--config-file %s: %s: want a mapping of cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls", path, k)
			}
			prefix := ""
			if k == "peer-transport-security" {
				prefix = "peer-"
			}
			sub := make([]string, 0, len(m))
			for sk := range m {
				sub = append(sub, sk)
			}
			sort.Strings(sub)
			for _, sk := range sub {
				switch sk {
				case "cert-file", "key-file", "client-cert-auth", "trusted-ca-file", "auto-tls":
					if err := apply(k+"."+sk, prefix+sk, m[sk]); err != nil {
						return nil, nil, err
					}
				default:
					unknown = append(unknown, k+"."+sk)
				}
			}
		default:
			if err := apply(k, k, v); err != nil {
				return nil, nil, err
			}
		}
	}
	return set, unknown, nil
}

func isIgnored(name string) bool {
	for _, n := range ignoredEtcdFlags {
		if n == name {
			return true
		}
	}
	return false
}

// yamlValue turns one YAML value into the flag's string form.
func yamlValue(f *flag.Flag, v any) (string, error) {
	isDur := false
	if g, ok := f.Value.(flag.Getter); ok {
		_, isDur = g.Get().(time.Duration)
	}
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ","), nil
	case int:
		if isDur {
			return time.Duration(x).String(), nil
		}
		return strconv.Itoa(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			if isDur {
				return time.Duration(int64(x)).String(), nil
			}
			return strconv.FormatInt(int64(x), 10), nil
		}
		return "", fmt.Errorf("want a whole number, got %v", x)
	case map[string]any:
		return "", fmt.Errorf("want a value, got a mapping")
	}
	return fmt.Sprint(v), nil
}
