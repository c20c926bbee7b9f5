package zkapi

import (
	"testing"

	"coordlab/client"
)

func TestSortBatch(t *testing.T) {
	put := func(k string, v int64) client.WatchEvent {
		return client.WatchEvent{Type: client.EventPut, Key: k, Version: v}
	}
	del := func(k string) client.WatchEvent { return client.WatchEvent{Type: client.EventDelete, Key: k} }
	evs := []client.WatchEvent{put("b", 9), del("a"), put("c", 5), put("a", 7), del("d")}
	sortBatch(evs)
	var got []string
	for _, e := range evs {
		got = append(got, e.Type.String()+" "+e.Key)
	}
	want := []string{"put c", "delete a", "put a", "put b", "delete d"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sorted %v, want %v (a delete goes just before its key's re-create, else last)", got, want)
		}
	}
}
