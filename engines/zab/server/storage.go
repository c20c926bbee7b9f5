package server

import (
	"fmt"

	"coordlab/engines/zab"
)

// diskStorage is the zab.Storage the core reads at start: the epoch files,
// the newest snapshot's zxid and the txn log above it. The core calls it only
// inside zab.NewNode.
type diskStorage struct {
	init   zab.InitialState
	log    *TxnLog
	loaded bool
	ents   []zab.Entry
}

// InitialState implements zab.Storage.
func (d *diskStorage) InitialState() (zab.InitialState, error) { return d.init, nil }

// Entries implements zab.Storage. The log above the snapshot is read once
// and served from memory; it is bounded by the snapshot interval.
func (d *diskStorage) Entries(after zab.Zxid, max int) ([]zab.Entry, error) {
	if !d.loaded {
		d.loaded = true
		err := d.log.ReadFrom(d.init.Applied, func(r LogRecord) error {
			d.ents = append(d.ents, zab.Entry{Zxid: r.Zxid, Data: r.Data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("zab: read txn log: %w", err)
		}
	}
	i := 0
	for i < len(d.ents) && d.ents[i].Zxid <= after {
		i++
	}
	j := min(len(d.ents), i+max)
	return d.ents[i:j], nil
}

// release drops the entries read for the core once it has started.
func (d *diskStorage) release() { d.ents = nil }
