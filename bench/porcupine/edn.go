package main

// The subset of EDN the Knossos and Porcupine histories use: maps, vectors,
// lists, sets (read as lists), strings with escapes, keywords (read as their
// name: :read is "read"), integers, decimals, nil, true and false, with
// commas as whitespace and ; comments. Map keys are read as strings.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

type ednReader struct {
	s []byte
	i int
}

func readEDN(text string) (any, error) {
	r := &ednReader{s: []byte(text)}
	v, err := r.read()
	if err != nil {
		return nil, err
	}
	if r.skip(); r.i != len(r.s) {
		return nil, fmt.Errorf("text after the value at byte %d", r.i)
	}
	return v, nil
}

func (r *ednReader) lineAt(i int) int {
	if i > len(r.s) {
		i = len(r.s)
	}
	return bytes.Count(r.s[:i], []byte{'\n'}) + 1
}

func (r *ednReader) skip() {
	for r.i < len(r.s) {
		switch c := r.s[r.i]; {
		case c == ';':
			for r.i < len(r.s) && r.s[r.i] != '\n' {
				r.i++
			}
		case c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *ednReader) read() (any, error) {
	r.skip()
	if r.i >= len(r.s) {
		return nil, fmt.Errorf("unexpected end of input")
	}
	switch c := r.s[r.i]; c {
	case '{':
		r.i++
		return r.readMap()
	case '[':
		r.i++
		return r.readSeq(']')
	case '(':
		r.i++
		return r.readSeq(')')
	case '#':
		if r.i+1 < len(r.s) && r.s[r.i+1] == '{' {
			r.i += 2
			return r.readSeq('}')
		}
		return nil, fmt.Errorf("unsupported dispatch #%c", r.s[r.i+1])
	case '"':
		return r.readString()
	case ')', ']', '}':
		return nil, fmt.Errorf("unexpected %q", c)
	}
	return r.readAtom()
}

func (r *ednReader) readSeq(end byte) (any, error) {
	list := []any{}
	for {
		r.skip()
		if r.i >= len(r.s) {
			return nil, fmt.Errorf("missing %q", end)
		}
		if r.s[r.i] == end {
			r.i++
			return list, nil
		}
		v, err := r.read()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
}

func (r *ednReader) readMap() (any, error) {
	items, err := r.readSeq('}')
	if err != nil {
		return nil, err
	}
	list := items.([]any)
	if len(list)%2 != 0 {
		return nil, fmt.Errorf("a map needs an even number of forms")
	}
	m := make(map[string]any, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		m[fmt.Sprint(list[i])] = list[i+1]
	}
	return m, nil
}

func (r *ednReader) readString() (any, error) {
	var b strings.Builder
	for r.i++; r.i < len(r.s); r.i++ {
		c := r.s[r.i]
		switch c {
		case '"':
			r.i++
			return b.String(), nil
		case '\\':
			r.i++
			if r.i >= len(r.s) {
				return nil, fmt.Errorf("unterminated string")
			}
			switch e := r.s[r.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil, fmt.Errorf("unterminated string")
}

func (r *ednReader) readAtom() (any, error) {
	start := r.i
	for r.i < len(r.s) && !strings.ContainsRune(" \t\r\n,;()[]{}\"", rune(r.s[r.i])) {
		r.i++
	}
	tok := string(r.s[start:r.i])
	switch {
	case tok == "nil":
		return nil, nil
	case tok == "true" || tok == "false":
		return tok == "true", nil
	case strings.HasPrefix(tok, ":"):
		return tok[1:], nil
	}
	num := strings.TrimSuffix(tok, "N")
	if i, err := strconv.ParseInt(num, 10, 64); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(strings.TrimSuffix(tok, "M"), 64); err == nil {
		return f, nil
	}
	return tok, nil // a symbol
}
