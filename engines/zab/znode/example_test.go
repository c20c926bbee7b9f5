package znode_test

import (
	"fmt"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// The leader prepares a client's write, the txn goes through the log, and
// every member applies it at its zxid; a watch set by a read fires.
func Example() {
	tree := znode.New()
	const session = znode.SessionID(0x100)
	zxid := znode.Zxid(0)
	commit := func(req znode.Request) znode.Result {
		txn, err := tree.Prepare(&req) // leader
		if err != nil {
			panic(err)
		}
		logged, err := znode.UnmarshalTxn(txn.Marshal()) // what followers receive
		if err != nil {
			panic(err)
		}
		zxid++
		res, events := tree.Apply(zxid, logged) // every member
		for _, ev := range events {
			fmt.Printf("  notify conn %d: %v %s\n", ev.Conn, ev.Type, ev.Path)
		}
		return res
	}

	commit(znode.Request{Op: jute.OpCreateSession, Session: session, Timeout: 10000})
	res := commit(znode.Request{Op: jute.OpCreate, Session: session, Time: 1700000000000,
		Body: &jute.CreateRequest{Path: "/lock-", Data: []byte("me"), ACL: jute.OpenACLUnsafe(), Flags: jute.FlagEphemeralSequential}})
	fmt.Println("created", res.Path, "czxid", res.Stat.Czxid, "owner", res.Stat.EphemeralOwner == int64(session))

	data, _, _ := tree.GetData(res.Path, nil, 7) // connection 7 watches it
	fmt.Printf("read %q\n", data)

	res = commit(znode.Request{Op: jute.OpSetData, Session: session,
		Body: &jute.SetDataRequest{Path: res.Path, Data: []byte("x"), Version: 3}})
	fmt.Println("stale setData:", res.Err.String())

	fmt.Println("closing the session:")
	path := "/lock-0000000000"
	commit(znode.Request{Op: jute.OpCloseSession, Session: session})
	_, err := tree.Exists(path, nil, 0)
	fmt.Println("after close:", err)
	// Output:
	// created /lock-0000000000 czxid 2 owner true
	// read "me"
	// stale setData: ZBADVERSION
	// closing the session:
	//   notify conn 7: NodeDeleted /lock-0000000000
	// after close: zookeeper: ZNONODE (-101)
}
