package main

// From a Jepsen-style list of entries (invoke, ok, fail, info) to Porcupine
// events, with the semantics of the oracle corpus README and Seam's readers:
//
//   - the order of entries is the real-time order (timestamps are ignored);
//   - ok completes the process's open op;
//   - fail means the op did not happen, so it is removed, except a cas in an
//     etcd log, whose fail is an observation ("the compare failed");
//   - info, or no completion at all, means the op crashed: it may take effect
//     at any instant after its invoke, or never. Porcupine wants every call
//     to return, so a crashed op returns after the last entry with an
//     unknown output, and the models let it be a no-op there.

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/anishathalye/porcupine"
)

type entry struct {
	line    int  // where it came from, for errors
	client  bool // false for the nemesis or any other non-numeric process
	process int64
	typ     string
	f       string
	key     any // a separate :key (Porcupine kv logs), else nil
	hasKey  bool
	value   any
	unknown bool // the history itself says nobody saw the output
}

// rules say how one input format meets one model.
type rules struct {
	model        string
	keyed        bool // values are [key, value] pairs (a register checked per key)
	observedFail bool // a failed cas is an observation (etcd logs)
	nilUnknown   bool // a completed read of nil saw nothing (Knossos EDN)
}

type pending struct {
	invoke   *entry
	end      *entry // nil while open or when crashed
	dropped  bool
	crashed  bool
	position int
}

// toEvents turns entries into Porcupine events; it returns the number of ops
// checked (failed ones removed).
func toEvents(file string, entries []entry, r rules) ([]porcupine.Event, int, error) {
	var ops []pending // by value: one allocation, not one per op
	var order []int   // op index per position, negative for a return (-1 - index)
	open := map[int64]int{}
	for n := range entries {
		e := &entries[n]
		if !e.client {
			continue
		}
		at, isOpen := open[e.process]
		switch e.typ {
		case "invoke":
			if isOpen {
				return nil, 0, fmt.Errorf("%s:%d: process %d invokes %s while its %s is still open",
					file, e.line, e.process, e.f, ops[at].invoke.f)
			}
			open[e.process] = len(ops)
			order = append(order, len(ops))
			ops = append(ops, pending{invoke: e})
		case "ok", "fail", "info":
			if !isOpen {
				if e.typ == "info" {
					continue // a crash note with nothing open
				}
				return nil, 0, fmt.Errorf("%s:%d: process %d completes %s with no open invoke", file, e.line, e.process, e.f)
			}
			delete(open, e.process)
			op := &ops[at]
			switch {
			case e.typ == "info":
				op.crashed = true
			case e.typ == "fail" && !(r.observedFail && op.invoke.f == "cas"):
				op.dropped = true
			default:
				op.end = e
				order = append(order, -1-at)
			}
		default:
			return nil, 0, fmt.Errorf("%s:%d: unknown op type %q (expected invoke, ok, fail or info)", file, e.line, e.typ)
		}
	}
	for _, at := range open {
		ops[at].crashed = true
	}
	// Inputs and outputs live in two slices and events point into them, so
	// a million ops cost two allocations instead of two million.
	inputs := make([]input, len(ops))
	outputs := make([]output, len(ops))
	for i := range ops {
		if ops[i].dropped {
			continue
		}
		if err := convert(&ops[i], r, &inputs[i], &outputs[i]); err != nil {
			return nil, 0, fmt.Errorf("%s:%d: %v", file, ops[i].invoke.line, err)
		}
	}
	events := make([]porcupine.Event, 0, 2*len(ops))
	checked := 0
	for _, at := range order {
		if at >= 0 {
			if !ops[at].dropped {
				checked++
				events = append(events, porcupine.Event{ClientId: int(ops[at].invoke.process), Kind: porcupine.CallEvent, Value: &inputs[at], Id: at})
			}
		} else {
			at = -1 - at
			events = append(events, porcupine.Event{ClientId: int(ops[at].invoke.process), Kind: porcupine.ReturnEvent, Value: &outputs[at], Id: at})
		}
	}
	for at := range ops {
		if op := &ops[at]; op.crashed && !op.dropped {
			events = append(events, porcupine.Event{ClientId: int(op.invoke.process), Kind: porcupine.ReturnEvent, Value: &outputs[at], Id: at})
		}
	}
	return events, checked, nil
}

// convert fills an op's input and output from its invoke and completion.
func convert(op *pending, r rules, in *input, out *output) error {
	inv := op.invoke
	in.f = inv.f
	out.unknown = op.crashed
	arg := inv.value
	var result any
	if op.end != nil {
		result = op.end.value
		out.unknown = op.end.unknown
		out.failed = op.end.typ == "fail"
	}
	keyed := r.keyed || r.model == "kv"
	if keyed && inv.hasKey {
		in.key = norm(inv.key)
	} else if keyed {
		key, v, err := pair(arg)
		if err != nil {
			return fmt.Errorf("%s: a keyed value must be [key, value]: %v", inv.f, err)
		}
		in.key, arg = norm(key), v
		if op.end != nil && !out.unknown {
			if _, result, err = pair(result); err != nil {
				return fmt.Errorf("%s completion: a keyed value must be [key, value]: %v", inv.f, err)
			}
		}
	}
	switch inv.f {
	case "read", "get":
		if op.end != nil && inv.f == "read" && result == nil && r.nilUnknown {
			out.unknown = true
		}
		out.value = norm(result)
		if inv.f == "get" && out.value != nil {
			if _, ok := out.value.(string); !ok {
				return fmt.Errorf("get returned %v, not a string", result)
			}
		}
	case "write":
		in.arg = norm(arg)
	case "cas":
		old, next, err := pair(arg)
		if err != nil {
			return fmt.Errorf("cas value must be [old, new]: %v", err)
		}
		in.arg, in.arg2 = norm(old), norm(next)
	case "put", "append":
		s, ok := arg.(string)
		if !ok {
			return fmt.Errorf("%s value must be a string, got %v", inv.f, arg)
		}
		in.arg = s
	case "txn":
		ops := arg // a crashed txn keeps its invoke; a completed one what it read
		if op.end != nil && !out.unknown {
			ops = result
		}
		txn, err := micros(ops)
		if err != nil {
			return err
		}
		in.txn = txn
	case "acquire", "release":
	default:
		return fmt.Errorf("model %s has no operation %q", r.model, inv.f)
	}
	return nil
}

func micros(v any) ([]micro, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("txn value must be a list of [f k v], got %v", v)
	}
	out := make([]micro, 0, len(list))
	for _, m := range list {
		parts, ok := m.([]any)
		if !ok || len(parts) != 3 || (parts[0] != "read" && parts[0] != "write") {
			return nil, fmt.Errorf("txn micro-op must be [read|write k v], got %v", m)
		}
		out = append(out, micro{write: parts[0] == "write", key: norm(parts[1]), value: norm(parts[2])})
	}
	return out, nil
}

func pair(v any) (any, any, error) {
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		return nil, nil, fmt.Errorf("got %v", v)
	}
	return list[0], list[1], nil
}

// norm makes a decoded value comparable with ==: integers become int64,
// strings, bools and nil stay, and anything else (a list, a map, a
// fraction) becomes its canonical JSON behind a NUL, so it never equals a
// real string.
func norm(v any) any {
	switch x := v.(type) {
	case nil, int64, string, bool:
		return x
	case int:
		return int64(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("\x00%#v", v)
	}
	return "\x00" + string(b)
}
