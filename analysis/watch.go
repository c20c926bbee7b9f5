package analysis

import (
	"fmt"
	"sort"
	"strings"

	"coordlab/history"
)

type kv struct {
	key     string
	version int64
}

type written struct {
	value   *string // nil: delete
	deleted bool
	by      *call // the write, or nil when known only from an event
}

// checkWatch checks watch ops against the writes and against each other,
// with the guarantees etcd's robustness suite names:
//   - ordered: versions never decrease within one watch;
//   - unique: no (key, version) twice in one watch;
//   - atomic: events sharing a version (one txn) arrive together;
//   - reliable: between the first and the last revision a watch covers (its
//     start revision, events and progress notifications), every acknowledged
//     write under the prefix is delivered;
//   - resumable: a watch from R delivers every acknowledged write at or after
//     R (a compacted start is an error event, accepted; a silent gap is not);
//   - bookmarkable: after a progress notification at P no event at or below
//     P arrives, and every acknowledged write at or below P was delivered;
//   - prev_kv and created: consistent with the key's previous write;
//   - no phantom: every put event carries a value some write tried to write,
//     and all watchers agree on what each (key, version) was.
func checkWatch(calls []*call, oneShot bool) CheckerResult {
	res := CheckerResult{Valid: Valid, Checked: map[string]int{}}
	var watches []*call
	acked := map[kv]written{}       // from OK writes with versions
	attempted := map[string]bool{}  // key\x00value of every non-failed put
	infoKeys := map[string]bool{}   // keys with an indeterminate write
	ackedByKey := map[string][]kv{} // sorted later
	for _, c := range calls {
		switch c.f {
		case history.FWatch:
			watches = append(watches, c)
		case history.FPut, history.FWrite, history.FDelete:
			if c.typ == history.Fail {
				continue
			}
			del := c.f == history.FDelete
			if !del {
				attempted[c.key+"\x00"+derefOr(c.inv.Value, "")] = true
			}
			if !c.ok() {
				infoKeys[c.key] = true
				continue
			}
			if c.comp.Version == 0 {
				infoKeys[c.key] = true // a change nobody can place (ZooKeeper deletes)
				continue
			}
			k := kv{c.key, c.comp.Version}
			w := written{by: c, deleted: del}
			if !del {
				w.value = c.inv.Value
			}
			acked[k] = w
			ackedByKey[c.key] = append(ackedByKey[c.key], k)
		}
	}
	res.Checked["watches"] = len(watches)
	res.Checked["acknowledged_writes"] = len(acked)
	if len(watches) == 0 {
		res.Valid, res.Note = Unknown, "no watch ops in the history"
		return res
	}
	add := func(kind string, w *call, explanation string, extra ...*call) {
		ops := w.indexes()
		for _, e := range extra {
			if e != nil {
				ops = append(ops, e.indexes()...)
			}
		}
		proc := w.process
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: kind, Key: w.key, Process: &proc, Ops: ops, Explanation: explanation})
	}

	// The timeline of each key: acknowledged writes plus what any watcher
	// saw. Disagreements between sources are anomalies in themselves.
	timeline := map[kv]written{}
	for k, w := range acked {
		timeline[k] = w
	}
	events := 0
	for _, w := range watches {
		for _, e := range w.res().Events {
			if e.Version == 0 && (e.Type == history.EventPut || e.Type == history.EventDelete) {
				infoKeys[e.Key] = true
			}
			if (e.Type != history.EventPut && e.Type != history.EventDelete) || e.Version == 0 {
				continue // version 0: the adapter could not tell (ZooKeeper deletes)
			}
			events++
			k := kv{e.Key, e.Version}
			got := written{value: e.Value, deleted: e.Type == history.EventDelete}
			if prev, ok := timeline[k]; ok {
				if prev.deleted != got.deleted || (!got.deleted && derefOr(prev.value, "") != derefOr(got.value, "")) {
					add("watch-inconsistent", w, fmt.Sprintf("watch #%d delivered %s %s=%q at version %d, but that version was %s", w.inv.Index, e.Type, e.Key, derefOr(e.Value, ""), e.Version, describeWritten(prev)), prev.by)
				}
				continue
			}
			timeline[k] = got
			if e.Type == history.EventPut && !attempted[e.Key+"\x00"+derefOr(e.Value, "")] {
				add("watch-phantom", w, fmt.Sprintf("watch #%d delivered put %s=%q at version %d, which no write tried to write", w.inv.Index, e.Key, derefOr(e.Value, ""), e.Version))
			}
		}
	}
	res.Checked["events"] = events
	byKey := map[string][]int64{}
	for k := range timeline {
		byKey[k.key] = append(byKey[k.key], k.version)
	}
	for k := range byKey {
		sort.Slice(byKey[k], func(i, j int) bool { return byKey[k][i] < byKey[k][j] })
	}
	for k := range ackedByKey {
		sort.Slice(ackedByKey[k], func(i, j int) bool { return ackedByKey[k][i].version < ackedByKey[k][j].version })
	}
	var allAcked []kv
	for k := range acked {
		allAcked = append(allAcked, k)
	}
	sort.Slice(allAcked, func(i, j int) bool {
		if allAcked[i].version != allAcked[j].version {
			return allAcked[i].version < allAcked[j].version
		}
		return allAcked[i].key < allAcked[j].key
	})

	final := finalReads(calls)

	for _, w := range watches {
		evs := w.res().Events
		prefix := w.key
		from := w.inv.Version // 0: from "now", unknown revision
		seen := map[kv]bool{}
		var last int64
		var lastProgress int64
		var lastProgressAt int
		closedRevs := map[int64]bool{} // versions whose group of events has ended
		var lo, hi int64 = from, 0
		compacted := false
		for i, e := range evs {
			switch e.Type {
			case history.EventProgress:
				if e.Version < last {
					add("watch-progress-behind", w, fmt.Sprintf("watch #%d sent a progress notification at %d after delivering version %d", w.inv.Index, e.Version, last))
				}
				if e.Version > lastProgress {
					lastProgress, lastProgressAt = e.Version, i
				}
				hi = max(hi, e.Version)
				continue
			case history.EventCompacted:
				compacted = true
				continue
			case history.EventError:
				continue
			}
			if e.Version == 0 {
				continue // unplaceable: no order, gap or prev check can use it
			}
			if lo == 0 {
				lo = e.Version
			}
			if e.Version < last {
				add("watch-reordered", w, fmt.Sprintf("watch #%d delivered %s at version %d after version %d", w.inv.Index, e.Key, e.Version, last))
			}
			if e.Version != last && closedRevs[e.Version] {
				add("watch-not-atomic", w, fmt.Sprintf("watch #%d delivered events of version %d apart, with other versions between", w.inv.Index, e.Version))
			}
			if e.Version != last && last != 0 {
				closedRevs[last] = true
			}
			k := kv{e.Key, e.Version}
			if seen[k] {
				add("watch-duplicate", w, fmt.Sprintf("watch #%d delivered %s at version %d twice", w.inv.Index, e.Key, e.Version))
			}
			seen[k] = true
			if lastProgress > 0 && e.Version <= lastProgress {
				add("watch-progress-ahead", w, fmt.Sprintf("watch #%d delivered %s at version %d after a progress notification at %d (event %d)", w.inv.Index, e.Key, e.Version, lastProgress, lastProgressAt))
			}
			if from > 0 && e.Version < from {
				add("watch-before-start", w, fmt.Sprintf("watch #%d from revision %d delivered %s at version %d", w.inv.Index, from, e.Key, e.Version))
			}
			last = max(last, e.Version)
			hi = max(hi, e.Version)
			checkPrev(add, w, e, timeline, byKey[e.Key], infoKeys[e.Key])
		}
		if compacted && len(seen) == 0 {
			continue // an explicit compacted start: an error, not a gap
		}
		// Reliable to the end: a watch that ran until the run ended, and
		// covered some version at or before a key's final version, must
		// have delivered that final version (or a later one).
		if w.ok() && w.comp.Ended == "run end" && lo > 0 {
			newest := map[string]int64{}
			for k := range seen {
				newest[k.key] = max(newest[k.key], k.version)
			}
			for _, r := range final {
				v := r.comp.Version
				if !strings.HasPrefix(r.key, prefix) || v < lo || r.end > w.end || newest[r.key] >= v {
					continue
				}
				add("watch-incomplete", w, fmt.Sprintf("watch #%d ran to the end of the run but never delivered %s at version %d, the final state read by #%d", w.inv.Index, r.key, v, r.inv.Index), r)
			}
		}
		// Reliable / resumable / bookmarkable: every acknowledged write under
		// the prefix in [lo, hi] was delivered.
		if lo == 0 || hi < lo {
			continue
		}
		var missing []kv
		for _, k := range allAcked {
			if k.version < lo {
				continue
			}
			if k.version > hi {
				break
			}
			if strings.HasPrefix(k.key, prefix) && !seen[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 && oneShot {
			res.Checked["missed_changes"] += len(missing)
			continue
		}
		if len(missing) > 0 {
			desc := make([]string, 0, min(5, len(missing)))
			var writes []*call
			for i, k := range missing {
				if i < 5 {
					desc = append(desc, fmt.Sprintf("%s@%d", k.key, k.version))
				}
				writes = append(writes, acked[k].by)
			}
			add("watch-gap", w, fmt.Sprintf("watch #%d covered versions %d..%d of %q but missed %d acknowledged writes: %s", w.inv.Index, lo, hi, prefix, len(missing), strings.Join(desc, ", ")), writes...)
		}
	}
	if oneShot && res.Checked["missed_changes"] > 0 {
		res.Note = fmt.Sprintf("one-shot watches: %d acknowledged changes fell between an event and the re-arm and were not delivered, as such watches promise; order, uniqueness, values and the final state were checked", res.Checked["missed_changes"])
	}
	if len(res.Anomalies) > 0 {
		res.Valid = Invalid
	}
	return res
}

// finalReads returns, per key, the last OK read of an existing key begun
// after every write to any key was invoked: the final state.
func finalReads(calls []*call) []*call {
	var lastWrite int64
	for _, c := range calls {
		if c.f == history.FPut || c.f == history.FWrite || c.f == history.FDelete {
			lastWrite = max(lastWrite, c.start)
		}
	}
	byKey := map[string]*call{}
	for _, c := range calls {
		if c.f != history.FRead || !c.ok() || !c.comp.Found || c.comp.Version == 0 || c.start <= lastWrite {
			continue
		}
		if p, ok := byKey[c.key]; !ok || c.start > p.start {
			byKey[c.key] = c
		}
	}
	out := make([]*call, 0, len(byKey))
	for _, c := range byKey {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func describeWritten(w written) string {
	if w.deleted {
		return "a delete"
	}
	s := fmt.Sprintf("a put of %q", derefOr(w.value, ""))
	if w.by != nil {
		s += fmt.Sprintf(" (#%d)", w.by.inv.Index)
	}
	return s
}

// checkPrev checks an event's prev value and created flag against the key's
// previous version in the timeline. Keys with a change that cannot be placed
// (an indeterminate write, a delete without a version) are skipped: an unseen
// version could sit in between.
func checkPrev(add func(string, *call, string, ...*call), w *call, e history.Event, timeline map[kv]written, versions []int64, hasInfo bool) {
	if hasInfo {
		return
	}
	i := sort.Search(len(versions), func(i int) bool { return versions[i] >= e.Version })
	if i == 0 {
		return // nothing known before: the key may predate the run
	}
	prev := timeline[kv{e.Key, versions[i-1]}]
	if e.PrevValue != nil {
		if prev.deleted {
			add("watch-wrong-prev", w, fmt.Sprintf("watch #%d: %s %s at version %d carries prev value %q, but the key was deleted at %d", w.inv.Index, e.Type, e.Key, e.Version, *e.PrevValue, versions[i-1]))
		} else if derefOr(prev.value, "") != *e.PrevValue {
			add("watch-wrong-prev", w, fmt.Sprintf("watch #%d: %s %s at version %d carries prev value %q, but version %d was %q", w.inv.Index, e.Type, e.Key, e.Version, *e.PrevValue, versions[i-1], derefOr(prev.value, "")), prev.by)
		}
	}
	if e.Type == history.EventPut && e.Created != prev.deleted {
		add("watch-wrong-created", w, fmt.Sprintf("watch #%d: put %s at version %d has created=%v, but the previous version %d was %s", w.inv.Index, e.Key, e.Version, e.Created, versions[i-1], describeWritten(prev)), prev.by)
	}
}
