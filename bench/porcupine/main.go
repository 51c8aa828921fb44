// Command seam-porcupine checks histories with Porcupine
// (github.com/anishathalye/porcupine), so bench/checker.py can time Seam's
// checker against it on the same files in the same run.
//
// Usage: seam-porcupine [-timeout 60s] [-max-heap-mib 4096] MANIFEST.json
//
// The manifest is a JSON array of {"file", "format", "model", "initial",
// "independent"} (format: jsonl, jepsen-etcd-log, porcupine-kv-edn-lines or
// knossos-edn). For each file it prints one JSON line: ops, parse and check
// seconds, and the verdict (linearizable, not-linearizable, or unknown when
// the timeout ran out; error with a message when the file could not be
// read). A last line sums them up. Exit status 1 if any file had an error.
//
// Porcupine's search can take memory as fast as it takes time (gigabytes a
// minute on histories with many crashed appends), and the bench runs on
// shared machines: past -max-heap-mib the driver gives up on the file as it
// does at the timeout (verdict unknown, with the reason) and stops there.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// outMu keeps the heap watcher's last lines from interleaving with a result.
var outMu sync.Mutex

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
	maxHeap := flag.Uint64("max-heap-mib", 4096, "give up (verdict unknown) and stop once Go's heap passes this; 0 = never")
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
	summary := func() {
		_ = out.Encode(map[string]any{
			"summary": true, "files": len(tasks), "errors": errors,
			"wall_s": time.Since(started).Seconds(), "go": runtime.Version(),
			"gomaxprocs": runtime.GOMAXPROCS(0),
		})
	}
	for _, t := range tasks {
		stop := watchHeap(*maxHeap, t, out, summary)
		r := check(t, *timeout)
		close(stop)
		if r.Error != "" {
			errors++
		}
		outMu.Lock()
		_ = out.Encode(r)
		outMu.Unlock()
	}
	summary()
	if errors > 0 {
		os.Exit(1)
	}
}

// watchHeap samples Go's heap ten times a second while one file is checked;
// past limitMiB it prints the file's verdict as unknown, the summary, and
// exits. Closing the returned channel stops it.
func watchHeap(limitMiB uint64, t task, out *json.Encoder, summary func()) chan struct{} {
	stop := make(chan struct{})
	if limitMiB == 0 {
		return stop
	}
	started := time.Now()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapAlloc>>20 > limitMiB {
					outMu.Lock() // held until the exit
					_ = out.Encode(result{File: t.File, Model: t.Model, Verdict: "unknown",
						CheckS: time.Since(started).Seconds(),
						Error:  fmt.Sprintf("gave up: Go heap over %d MiB after %.1f s", limitMiB, time.Since(started).Seconds())})
					summary()
					os.Exit(0)
				}
			}
		}
	}()
	return stop
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
