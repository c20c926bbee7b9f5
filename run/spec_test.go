package run

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSpecValidate(t *testing.T) {
	ok := Spec{Target: "etcd", Workload: "register"}.WithDefaults()
	if err := Validate(ok); err != nil {
		t.Fatalf("default etcd register spec: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"target", func(s *Spec) { s.Target = "consul" }, "--target"},
		{"zk mode on etcd", func(s *Spec) { s.ReadMode = "local" }, "etcd API"},
		{"etcd mode on zk", func(s *Spec) { s.Target, s.ReadMode = "zookeeper", "serializable" }, "ZooKeeper API"},
		{"nodes", func(s *Spec) { s.Nodes = 4 }, "--nodes"},
		{"nemesis", func(s *Spec) { s.Nemesis = "partiton" }, "--nemesis"},
		{"ring needs 5", func(s *Spec) { s.Nemesis = "partition-majorities-ring" }, "--nodes 5"},
		{"unfenced", func(s *Spec) { s.Unfenced = true }, "--unfenced"},
		{"lock-holder", func(s *Spec) { s.Nemesis = "pause-lock-holder" }, "--workload lock"},
		{"workload", func(s *Spec) { s.Workload = "queue" }, "--workload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			err := Validate(s)
			if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want ErrBadSpec naming %q", err, c.want)
			}
		})
	}
}

func TestTestJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := Test{Spec: Spec{Target: "zab", Workload: "watch", TimeLimit: Duration(20 * time.Second)}.WithDefaults(), Dir: dir,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := WriteTest(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadTest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	if _, err := ReadTest(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Fatalf("ReadTest(missing) = %v, want 'not a run directory'", err)
	}
}
