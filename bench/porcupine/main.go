// Command seam-porcupine checks histories with Porcupine
// (github.com/anishathalye/porcupine), so bench/checker.py can time Seam's
// checker against it on the same files in the same run.
//
// Usage: seam-porcupine [-timeout 60s] MANIFEST.json
//
// The manifest is a JSON array of {"file", "format", "model", "initial",
// "independent"} (format: jsonl, jepsen-etcd-log, porcupine-kv-edn-lines or
// knossos-edn). For each file it prints one JSON line: ops, parse and check
// seconds, and the verdict (linearizable, not-linearizable, or unknown when
// the timeout ran out; error with a message when the file could not be
// read). A last line sums them up. Exit status 1 if any file had an error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/anishathalye/porcupine"
)

type task struct {
	File        string `json:"file"`
	Format      string `json:"format"`
	Model       string `json:"model"`
	Initial     any    `json:"initial"`
	Independent bool   `json:"independent"`
}

type result struct {
	File    string  `json:"file"`
	Model   string  `json:"model"`
	Ops     int     `json:"ops"`
	ParseS  float64 `json:"parse_s"`
	CheckS  float64 `json:"check_s"`
	Verdict string  `json:"verdict"`
	Error   string  `json:"error,omitempty"`
}

var verdicts = map[porcupine.CheckResult]string{
	porcupine.Ok:      "linearizable",
	porcupine.Illegal: "not-linearizable",
	porcupine.Unknown: "unknown",
}

func main() {
	timeout := flag.Duration("timeout", 60*time.Second, "give up on one file after this long (verdict unknown); 0 = never")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: seam-porcupine [-timeout 60s] MANIFEST.json")
		os.Exit(2)
	}
	var tasks []task
	data, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		err = json.Unmarshal(data, &tasks)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "seam-porcupine: manifest %s: %v\n", flag.Arg(0), err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	started := time.Now()
	errors := 0
	for _, t := range tasks {
		r := check(t, *timeout)
		if r.Error != "" {
			errors++
		}
		_ = out.Encode(r)
	}
	_ = out.Encode(map[string]any{
		"summary": true, "files": len(tasks), "errors": errors,
		"wall_s": time.Since(started).Seconds(), "go": runtime.Version(),
		"gomaxprocs": runtime.GOMAXPROCS(0),
	})
	if errors > 0 {
		os.Exit(1)
	}
}

// check reads one file (parse seconds), builds its events, and checks them.
func check(t task, timeout time.Duration) result {
	r := result{File: t.File, Model: t.Model, Verdict: "error"}
	t0 := time.Now()
	entries, err := readEntries(t.File, t.Format)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	rl := rules{
		model:        t.Model,
		keyed:        t.Independent,
		observedFail: t.Model == "etcd-register",
		nilUnknown:   t.Format == "knossos-edn",
	}
	events, ops, err := toEvents(t.File, entries, rl)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	model, err := newModel(t.Model, t.Initial, t.Independent)
	if err != nil {
		r.Error = fmt.Sprintf("%s: %v", t.File, err)
		return r
	}
	entries = nil
	r.Ops = ops
	t1 := time.Now()
	verdict := porcupine.CheckEventsTimeout(model, events, timeout)
	r.ParseS, r.CheckS = t1.Sub(t0).Seconds(), time.Since(t1).Seconds()
	r.Verdict = verdicts[verdict]
	return r
}
