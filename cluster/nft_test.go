package cluster

import (
	"strings"
	"testing"
)

func TestNFTScript(t *testing.T) {
	peers := []string{"10.77.1.2", "10.77.1.3"}
	cases := []struct {
		name      string
		srcs      []string
		loss      int
		want      []string
		wantTable bool
	}{
		{"empty deletes", nil, 0, nil, false},
		{"partition", []string{"10.77.1.2"}, 0, []string{"ip saddr { 10.77.1.2 } drop"}, true},
		{"loss", nil, 30, []string{"ip saddr { 10.77.1.2, 10.77.1.3 } numgen random mod 100 < 30 drop"}, true},
		{"both", []string{"10.77.1.3"}, 5, []string{"ip saddr { 10.77.1.3 } drop", "mod 100 < 5 drop"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NFTScript(c.srcs, c.loss, peers)
			if !strings.HasPrefix(s, "add table inet coordlab\ndelete table inet coordlab\n") {
				t.Errorf("script does not reset our table first:\n%s", s)
			}
			if got := strings.Contains(s, "table inet coordlab {"); got != c.wantTable {
				t.Errorf("defines table = %v, want %v:\n%s", got, c.wantTable, s)
			}
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("script lacks %q:\n%s", w, s)
				}
			}
		})
	}
}

func TestDropSources(t *testing.T) {
	hosts := map[string]string{"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"}
	got, err := DropSources(Grudge{"n1": {"n3", "n2", "n3"}, "n2": {"n1"}}, hosts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"n1": {"10.0.0.2", "10.0.0.3"}, "n2": {"10.0.0.1"}, "n3": nil}
	for n, w := range want {
		if strings.Join(got[n], ",") != strings.Join(w, ",") {
			t.Errorf("%s drops %v, want %v", n, got[n], w)
		}
	}
	if _, err := DropSources(Grudge{"n1": {"n4"}}, hosts); err == nil || !strings.Contains(err.Error(), `"n4"`) {
		t.Errorf("unknown member: got %v, want an error naming n4", err)
	}
}

func TestTableSteer(t *testing.T) {
	peers := []string{"10.77.1.2", "10.77.1.3"}
	cases := []struct {
		name  string
		table Table
		want  []string
		not   []string
	}{
		{"peers", Table{Peers: peers, Steer: Steer{Mark: 0x4c4154, Peers: true}},
			[]string{"type filter hook output priority -10", `oifname != "lo" ip daddr { 10.77.1.2, 10.77.1.3 } meta mark set 0x4c4154`},
			[]string{"chain in"}},
		{"clients", Table{Peers: peers, Steer: Steer{Mark: 7, Clients: true}},
			[]string{`oifname != "lo" ip daddr != { 10.77.1.2, 10.77.1.3 } meta mark set 0x7`}, nil},
		{"both", Table{Peers: peers, Steer: Steer{Mark: 7, Peers: true, Clients: true}},
			[]string{`oifname != "lo" meta mark set 0x7`}, []string{"daddr"}},
		{"with a partition", Table{Drop: []string{"10.77.1.3"}, Peers: peers, Steer: Steer{Mark: 7, Peers: true}},
			[]string{"ip saddr { 10.77.1.3 } drop", "ip daddr { 10.77.1.2, 10.77.1.3 } meta mark set 0x7"}, nil},
		{"no mark marks nothing", Table{Peers: peers, Steer: Steer{Peers: true}}, nil, []string{"table inet coordlab {"}},
		{"no peers to mark", Table{Steer: Steer{Mark: 7, Peers: true}}, nil, []string{"table inet coordlab {"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.table.Script()
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("script lacks %q:\n%s", w, s)
				}
			}
			for _, w := range c.not {
				if strings.Contains(s, w) {
					t.Errorf("script has %q:\n%s", w, s)
				}
			}
		})
	}
}
