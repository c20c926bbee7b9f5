package znode

import "coordlab/engines/zab/jute"

// MultiResponse builds the body of a multi reply from the request's ops
// and Apply's Result, as ZooKeeper 3.8.0 answers (checked on a live one):
// create and create2 ops get a create result (path only), createContainer
// and createTTL a create2 result (path and Stat), setData a Stat, delete and
// check no body; in a failed multi every result is an error result with
// its code. It returns nil when the multi as a whole was refused (Result
// has no per-op results, e.g. ZSESSIONEXPIRED): reply with a header-only
// error then.
func MultiResponse(ops []jute.MultiOp, res Result) *jute.MultiResponse {
	if len(res.Multi) == 0 && res.Err != jute.ZOK {
		return nil
	}
	failed := false
	for _, r := range res.Multi {
		if r.Err != jute.ZOK {
			failed = true
			break
		}
	}
	out := &jute.MultiResponse{Results: make([]jute.MultiResult, len(res.Multi))}
	for i, r := range res.Multi {
		if failed {
			out.Results[i] = jute.MultiResult{Type: jute.OpError, Err: r.Err}
			continue
		}
		var op jute.Op
		if i < len(ops) {
			op = MultiOpType(ops[i])
		}
		switch op {
		case jute.OpCreate, jute.OpCreate2:
			out.Results[i] = jute.MultiResult{Type: jute.OpCreate, Body: &jute.CreateResponse{Path: r.Path}}
		case jute.OpCreateContainer, jute.OpCreateTTL:
			out.Results[i] = jute.MultiResult{Type: jute.OpCreate2, Body: &jute.Create2Response{Path: r.Path, Stat: r.Stat}}
		case jute.OpSetData:
			out.Results[i] = jute.MultiResult{Type: jute.OpSetData, Body: &jute.StatResponse{Stat: r.Stat}}
		default: // delete, check
			out.Results[i] = jute.MultiResult{Type: op}
		}
	}
	return out
}
