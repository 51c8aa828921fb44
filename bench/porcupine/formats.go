package main

// Readers for the history formats Seam's checker bench feeds both checkers:
// Seam's JSONL, Jepsen etcd logs and Porcupine kv logs (Porcupine's own test
// data), and Knossos EDN files. Each returns entries in file order.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func readEntries(path, format string) ([]entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case "jsonl":
		return readJSONL(path, data)
	case "jepsen-etcd-log":
		return readEtcdLog(path, data)
	case "porcupine-kv-edn-lines":
		return readKVLines(path, data)
	case "knossos-edn":
		return readKnossos(path, data)
	}
	return nil, fmt.Errorf("%s: unknown format %q (jsonl, jepsen-etcd-log, porcupine-kv-edn-lines, knossos-edn)", path, format)
}

// readJSONL reads Seam's JSONL: one op per line; null is a real value, and
// "unknown": true marks an output nobody saw. A process that is not an
// integer (the nemesis) is not a client. The names of types and functions
// are shared between entries, not one string per line.
func readJSONL(path string, data []byte) ([]entry, error) {
	entries := make([]entry, 0, bytes.Count(data, []byte{'\n'})+1)
	names := map[string]string{}
	name := func(b []byte) string {
		if s, ok := names[string(b)]; ok {
			return s
		}
		s := string(b)
		names[s] = s
		return s
	}
	var e entry
	r := &jsonReader{}
	field := func(key []byte) error {
		switch string(key) {
		case "type", "f":
			r.space()
			b, escaped, err := r.raw()
			if err != nil || escaped {
				return fmt.Errorf("%s must be a plain string", key)
			}
			if key[0] == 't' {
				e.typ = name(b)
			} else {
				e.f = name(b)
			}
			return nil
		}
		v, err := r.value()
		switch string(key) {
		case "process":
			e.process, e.client = v.(int64)
		case "value":
			e.value = v
		case "unknown":
			e.unknown = v == true
		}
		return err
	}
	for n, start := 1, 0; start < len(data); n++ {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		line := data[start:end]
		start = end + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e = entry{line: n}
		r.s, r.i = line, 0
		if err := r.object(field); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readEtcdLog reads "INFO  jepsen.util - P :type :f value" lines; the value is
// nil, an integer, [A B] or :timed-out (whose op outcome nobody saw).
func readEtcdLog(path string, data []byte) ([]entry, error) {
	var entries []entry
	for n, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 7 || fields[0] != "INFO" || fields[1] != "jepsen.util" || fields[2] != "-" {
			return nil, fmt.Errorf("%s:%d: not a Jepsen etcd log line: %q", path, n+1, line)
		}
		p, err := strconv.ParseInt(fields[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: process %q is not an integer", path, n+1, fields[3])
		}
		e := entry{line: n + 1, client: true, process: p,
			typ: strings.TrimPrefix(fields[4], ":"), f: strings.TrimPrefix(fields[5], ":")}
		value := strings.Join(fields[6:], " ")
		if value == ":timed-out" {
			e.unknown = true
		} else if e.value, err = readEDN(value); err != nil {
			return nil, fmt.Errorf("%s:%d: value %q: %v", path, n+1, value, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readKVLines reads Porcupine's kv logs: one EDN map per line, with :key.
func readKVLines(path string, data []byte) ([]entry, error) {
	var entries []entry
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		v, err := readEDN(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n+1, err)
		}
		e, err := ednEntry(v, n+1)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n+1, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readKnossos reads one EDN vector or list of op maps.
func readKnossos(path string, data []byte) ([]entry, error) {
	r := &ednReader{s: data}
	form, err := r.read()
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %v", path, r.lineAt(r.i), err)
	}
	list, ok := form.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a vector or list of ops", path)
	}
	entries := make([]entry, 0, len(list))
	for i, v := range list {
		e, err := ednEntry(v, i+1)
		if err != nil {
			return nil, fmt.Errorf("%s: op %d: %v", path, i+1, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func ednEntry(v any, line int) (entry, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return entry{}, fmt.Errorf("expected an op map, got %v", v)
	}
	e := entry{line: line}
	e.typ, _ = m["type"].(string)
	e.f, _ = m["f"].(string)
	e.value = m["value"]
	e.key, e.hasKey = m["key"]
	if p, ok := m["process"].(int64); ok {
		e.client, e.process = true, p
	}
	return e, nil
}
