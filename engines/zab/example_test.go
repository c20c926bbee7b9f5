package zab_test

import (
	"fmt"

	"coordlab/engines/zab"
)

// A one-member ensemble driven by hand: the Ready loop a runtime runs.
func Example() {
	storage := zab.NewMemoryStorage()
	n, err := zab.NewNode(zab.Config{ID: 1, Peers: []zab.ServerID{1}, Storage: storage})
	if err != nil {
		fmt.Println(err)
		return
	}
	handle := func() {
		for n.HasReady() {
			rd := n.Ready()
			if rd.SoftState != nil {
				fmt.Printf("state %s %s epoch %d\n", rd.SoftState.State, rd.SoftState.Phase, rd.SoftState.Epoch)
			}
			// Early messages would go out here; a one-member ensemble has none.
			if err := storage.Persist(rd); err != nil { // the "fsync"
				fmt.Println(err)
				return
			}
			// Messages would go out here, after the fsync.
			for _, e := range rd.Committed {
				fmt.Printf("apply %s %s\n", e.Zxid, e.Data)
			}
			n.Advance(rd)
		}
	}
	handle()
	n.Tick() // the finalize wait of the election passes
	handle()
	for _, w := range []string{"create /a", "set /a 1"} {
		if _, err := n.Propose([]byte(w)); err != nil {
			fmt.Println(err)
		}
	}
	handle()
	// Output:
	// state LOOKING election epoch 0
	// state LEADING broadcast epoch 1
	// apply 1:1 create /a
	// apply 1:2 set /a 1
}
