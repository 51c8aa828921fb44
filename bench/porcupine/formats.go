package main

// Readers for the history formats Seam's checker bench feeds both checkers:
// Seam's JSONL, Jepsen etcd logs and Porcupine kv logs (Porcupine's own test
// data), and Knossos EDN files. Each returns entries in file order.

import (
	"bufio"
	"bytes"
	"encoding/json"
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

type jsonlRow struct {
	Process json.RawMessage `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Value   json.RawMessage `json:"value"`
	Unknown bool            `json:"unknown"`
}

// readJSONL reads Seam's JSONL: one op per line; null is a real value, and
// "unknown": true marks an output nobody saw.
func readJSONL(path string, data []byte) ([]entry, error) {
	entries := make([]entry, 0, bytes.Count(data, []byte{'\n'})+1)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row jsonlRow
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		e := entry{line: n, typ: row.Type, f: row.F, unknown: row.Unknown}
		if p, err := strconv.ParseInt(string(row.Process), 10, 64); err == nil {
			e.client, e.process = true, p
		}
		v, err := jsonValue(row.Value)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: value: %v", path, n, err)
		}
		e.value = v
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// jsonValue decodes a value, with a fast path for the null and integers that
// most ops carry.
func jsonValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return i, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

// numbers turns json.Number into int64 where it is an integer, float64 otherwise.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
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
