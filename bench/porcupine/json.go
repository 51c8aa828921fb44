package main

// A small JSON reader for Seam's JSONL op lines. encoding/json spends most
// of its time on reflection, and the 1,000,000-op histories have 2,000,000
// lines: reading them would outweigh Porcupine's own work, and the bench
// would time this parser instead of Porcupine. Strings with escapes go
// through strconv.Unquote; numbers become int64 when they are integers.

import (
	"fmt"
	"strconv"
)

type jsonReader struct {
	s []byte
	i int
}

func (r *jsonReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\r', '\n':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) expect(c byte) error {
	r.space()
	if r.i >= len(r.s) || r.s[r.i] != c {
		return fmt.Errorf("expected %q at byte %d", c, r.i)
	}
	r.i++
	return nil
}

// object calls field for each key (its raw bytes, escapes left in), with
// the reader at the key's value.
func (r *jsonReader) object(field func(key []byte) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return nil
	}
	for {
		r.space()
		key, _, err := r.raw()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		r.space()
		if r.i < len(r.s) && r.s[r.i] == ',' {
			r.i++
			continue
		}
		return r.expect('}')
	}
}

// raw reads a string and returns its bytes between the quotes, unconverted,
// and whether it holds an escape.
func (r *jsonReader) raw() ([]byte, bool, error) {
	if r.i >= len(r.s) || r.s[r.i] != '"' {
		return nil, false, fmt.Errorf("expected a string at byte %d", r.i)
	}
	start := r.i + 1
	escaped := false
	for r.i++; r.i < len(r.s); r.i++ {
		switch r.s[r.i] {
		case '\\':
			escaped = true
			r.i++
		case '"':
			r.i++
			return r.s[start : r.i-1], escaped, nil
		}
	}
	return nil, false, fmt.Errorf("unterminated string")
}

func (r *jsonReader) str() (string, error) {
	b, escaped, err := r.raw()
	if err != nil || !escaped {
		return string(b), err
	}
	return strconv.Unquote(`"` + string(b) + `"`)
}

func (r *jsonReader) value() (any, error) {
	r.space()
	if r.i >= len(r.s) {
		return nil, fmt.Errorf("unexpected end of line")
	}
	switch c := r.s[r.i]; {
	case c == '"':
		return r.str()
	case c == '[':
		r.i++
		list := []any{}
		r.space()
		if r.i < len(r.s) && r.s[r.i] == ']' {
			r.i++
			return list, nil
		}
		for {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			r.space()
			if r.i < len(r.s) && r.s[r.i] == ',' {
				r.i++
				continue
			}
			return list, r.expect(']')
		}
	case c == '{':
		m := map[string]any{}
		err := r.object(func(key []byte) error {
			v, err := r.value()
			m[string(key)] = v
			return err
		})
		return m, err
	}
	start := r.i
	for r.i < len(r.s) && r.s[r.i] != ',' && r.s[r.i] != ']' && r.s[r.i] != '}' && r.s[r.i] != ' ' {
		r.i++
	}
	tok := string(r.s[start:r.i])
	switch tok {
	case "null":
		return nil, nil
	case "true", "false":
		return tok == "true", nil
	}
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return f, nil
	}
	return nil, fmt.Errorf("bad value %q at byte %d", tok, start)
}
