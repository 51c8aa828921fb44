package main

// The sequential specifications Porcupine checks against, written to mean
// what Seam's models of the same names mean (checkers/linearizable/models.py)
// and what the oracle corpus README says: a register family (register,
// cas-register, etcd-register), Porcupine's kv map, Knossos' multi-register
// and mutex. Porcupine wants pure step functions over comparable states, so
// states are nil, int64, string or bool (see norm), and the multi-register
// state is an immutable map compared by Equal.

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// input is what an operation asked for; Porcupine hands it to Step unchanged.
type input struct {
	f    string
	key  any // partition key (kv, or a register checked per key), nil otherwise
	arg  any // written value, cas expected value, put/append string
	arg2 any // cas new value
	txn  []micro
}

// output is how an operation ended.
type output struct {
	value   any  // what a read or get returned (normalised)
	unknown bool // nobody saw the result: a crashed op, a timed-out read
	failed  bool // an observed failure: a cas whose compare failed (etcd logs)
}

// micro is one [:read k v] or [:write k v] of a multi-register txn; a read
// whose v is nil constrains nothing (Knossos).
type micro struct {
	write bool
	key   any
	value any
}

// newModel returns the Porcupine model for a Seam model name, partitioned by
// key when keyed (every kv history, or a register history whose values are
// [key, value] pairs).
func newModel(name string, initial any, keyed bool) (porcupine.Model, error) {
	var m porcupine.Model
	switch name {
	case "register", "cas-register", "etcd-register":
		init := norm(initial)
		m = porcupine.Model{
			Init: func() any { return init },
			Step: registerStep,
			Hash: hash,
		}
	case "kv":
		init := ""
		if initial != nil {
			s, ok := initial.(string)
			if !ok {
				return m, fmt.Errorf("kv initial value must be a string, got %v", initial)
			}
			init = s
		}
		keyed = true
		m = porcupine.Model{
			Init: func() any { return init },
			Step: kvStep,
			Hash: hash,
		}
	case "mutex":
		locked := initial == "locked" || initial == true
		if !locked && initial != nil && initial != "unlocked" && initial != false {
			return m, fmt.Errorf(`mutex initial state must be "unlocked" or "locked", got %v`, initial)
		}
		m = porcupine.Model{
			Init: func() any { return locked },
			Step: mutexStep,
			Hash: hash,
		}
	case "multi-register":
		init := map[any]any{}
		if initial != nil {
			regs, ok := initial.(map[string]any)
			if !ok {
				return m, fmt.Errorf("multi-register initial state must be a map, got %v", initial)
			}
			for k, v := range regs {
				init[k] = norm(v)
			}
		}
		m = porcupine.Model{
			Init:  func() any { return init },
			Step:  txnStep,
			Equal: mapsEqual,
		}
	default:
		return m, fmt.Errorf("no Porcupine model for %q (known: register, cas-register, etcd-register, kv, mutex, multi-register)", name)
	}
	if keyed {
		m.PartitionEvent = partitionByKey
	}
	return m, nil
}

// registerStep: a read must see the value (unless nobody saw what it read); a
// write sets it; a cas that succeeded needs the expected value; a cas whose
// compare was seen to fail needs any other value; a crashed cas, which the
// checker must still place somewhere, takes effect where it can and is a
// no-op elsewhere, so "it never happened" stays possible.
func registerStep(state, in, out any) (bool, any) {
	i, o := in.(*input), out.(*output)
	switch i.f {
	case "read":
		return o.unknown || o.value == state, state
	case "write":
		return true, i.arg
	case "cas":
		match := state == i.arg
		switch {
		case o.unknown:
			if match {
				return true, i.arg2
			}
			return true, state
		case o.failed:
			return !match, state
		case match:
			return true, i.arg2
		}
	}
	return false, state
}

// kvStep: one key's string; a get of nil reads as "" (nothing stored yet).
func kvStep(state, in, out any) (bool, any) {
	i, o, s := in.(*input), out.(*output), state.(string)
	switch i.f {
	case "get":
		want := o.value
		if want == nil {
			want = ""
		}
		return o.unknown || want == s, s
	case "put":
		return true, i.arg
	case "append":
		return true, s + i.arg.(string)
	}
	return false, s
}

func mutexStep(state, in, _ any) (bool, any) {
	locked := state.(bool)
	switch in.(*input).f {
	case "acquire":
		return !locked, true
	case "release":
		return locked, false
	}
	return false, locked
}

// txnStep applies a transaction's micro-ops in order, atomically, to a copy.
func txnStep(state, in, _ any) (bool, any) {
	regs := state.(map[any]any)
	next := make(map[any]any, len(regs))
	for k, v := range regs {
		next[k] = v
	}
	for _, m := range in.(*input).txn {
		if m.write {
			next[m.key] = m.value
		} else if m.value != nil && next[m.key] != m.value {
			return false, regs
		}
	}
	return true, next
}

func mapsEqual(a, b any) bool {
	x, y := a.(map[any]any), b.(map[any]any)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if w, ok := y[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// hash agrees with == on normalised values, as Porcupine's Hash must with Equal.
func hash(state any) uint64 {
	switch v := state.(type) {
	case int64:
		return uint64(v) * 0x9e3779b97f4a7c15
	case string:
		h := fnv.New64a()
		h.Write([]byte(v))
		return h.Sum64()
	case bool:
		if v {
			return 1
		}
		return 2
	}
	return 0
}

// partitionByKey splits a history into one sub-history per key, in the order
// the keys first appear (each return goes with its call's key).
func partitionByKey(history []porcupine.Event) [][]porcupine.Event {
	index := map[any]int{}
	keyOf := map[int]int{}
	var parts [][]porcupine.Event
	for _, e := range history {
		var p int
		if e.Kind == porcupine.CallEvent {
			key := e.Value.(*input).key
			n, ok := index[key]
			if !ok {
				n = len(parts)
				index[key] = n
				parts = append(parts, nil)
			}
			keyOf[e.Id] = n
			p = n
		} else {
			p = keyOf[e.Id]
		}
		parts[p] = append(parts[p], e)
	}
	return parts
}
