package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/pflag"

	"coordlab/suite"
)

// TestSuiteAndCLIShareDefaults: a suite entry that sets only what the
// command line sets gets the same Spec as `coordlab run` with those flags:
// one set of defaults (a suite without "rate" used to run unthrottled while
// the CLI ran at 200 ops/s).
func TestSuiteAndCLIShareDefaults(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	spec := specFlags(fs)
	if err := fs.Parse([]string{"--target", "etcd", "--workload", "lock", "--nemesis", "kill"}); err != nil {
		t.Fatal(err)
	}
	cli := spec()
	for name, body := range map[string]string{
		"no defaults":      `{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["lock"],"nemeses":["kill"]}]}`,
		"defaults no rate": `{"name":"x","defaults":{"seed":1,"nodes":3},"groups":[{"targets":["etcd"],"runtime":"local","workloads":["lock"],"nemeses":["kill"]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "s.json")
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := suite.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Expand()[0].Spec
			if !reflect.DeepEqual(got, cli) {
				t.Errorf("suite spec differs from the CLI's:\nsuite %+v\n  cli %+v", got, cli)
			}
			if got.WithDefaults() != cli.WithDefaults() {
				t.Errorf("after WithDefaults:\nsuite %+v\n  cli %+v", got.WithDefaults(), cli.WithDefaults())
			}
			if got.Rate != 200 {
				t.Errorf("rate %g, want the default 200", got.Rate)
			}
		})
	}
	// An explicit zero rate stays unlimited.
	p := filepath.Join(t.TempDir(), "s.json")
	body := `{"name":"x","defaults":{"rate":0},"groups":[{"targets":["etcd"],"runtime":"local","workloads":["lock"],"nemeses":["kill"]}]}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := suite.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Expand()[0].Spec.Rate; r != 0 {
		t.Errorf(`"rate": 0 gave %g, want 0 (unlimited)`, r)
	}
}
