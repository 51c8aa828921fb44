"""The interpreter with real threads and fake in-memory clients."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter

import pytest

from harness.core.op import History
from harness.generator import (
    clients,
    delay,
    fn,
    limit,
    nemesis,
    phases,
    repeat,
    sleep,
    stagger,
    time_limit,
)
from harness.interpreter import run_generator

MS = 1_000_000


class FakeClient:
    """An in-memory register; ``behaviour(op)`` may raise, hang or return something odd."""

    def __init__(self, thread, log, behaviour=None, latency=0.0):
        self.thread = thread
        self.log = log
        self.behaviour = behaviour
        self.latency = latency
        self.closed = False
        log.append(("open", thread))

    def invoke(self, test, op):
        if self.latency:
            time.sleep(self.latency)
        if self.behaviour is not None:
            answer = self.behaviour(op)
            if answer is not None:
                return answer
        return dataclasses.replace(op, type="ok")

    def close(self):
        self.closed = True
        self.log.append(("close", self.thread))


class FakeNemesis:
    def __init__(self, fail_on=None):
        self.seen = []
        self.fail_on = fail_on

    def setup(self, test):
        pass

    def heal(self, test):
        pass

    def invoke(self, test, op):
        self.seen.append(op.f)
        if op.f == self.fail_on:
            raise OSError("iptables: no such chain")
        return dataclasses.replace(op, type="info", value={"n1": ["n2"]})


def run(gen, *, concurrency=3, behaviour=None, latency=0.0, nemesis_obj=None, **kw):
    opened = []
    recorded = []
    history = run_generator(
        None,
        gen,
        client_factory=lambda t: FakeClient(t, opened, behaviour, latency),
        nemesis=nemesis_obj,
        concurrency=concurrency,
        record=recorded.append,
        seed=kw.pop("seed", 1),
        **kw,
    )
    assert list(history) == recorded  # record saw exactly what is returned, in order
    return history, opened


def well_formed(history):
    checked = History(history)
    assert [o.index for o in history] == list(range(len(history)))
    times = [o.time for o in history]
    assert times == sorted(times)
    pairs = checked.pairs()
    assert not any(p.open for p in pairs), "an invoke never completed"
    return checked


def test_every_invoke_gets_exactly_one_completion():
    history, opened = run(clients(limit(300, repeat({"f": "read"}))), concurrency=5)
    checked = well_formed(history)
    assert len(checked.pairs()) == 300
    assert Counter(o.type for o in history) == {"invoke": 300, "ok": 300}
    assert sorted(t for what, t in opened if what == "open") == [0, 1, 2, 3, 4]
    assert history.stats.ops == 300 and history.stats.ok == 300


def test_invoke_and_completion_carry_the_template_fields():
    history, _ = run(clients({"f": "write", "value": ["k", 3], "key": "k"}), concurrency=1)
    invoke, done = history
    assert (invoke.type, invoke.f, invoke.value, invoke.process, invoke.extra) == (
        "invoke",
        "write",
        ["k", 3],
        0,
        {"key": "k"},
    )
    assert (done.type, done.f, done.value, done.process) == ("ok", "write", ["k", 3], 0)


def test_an_exception_is_info_with_the_error_and_the_process_is_retired():
    def boom(op):
        if op.process == 1:
            raise ConnectionResetError("peer went away")

    # A client that takes a moment, as a real one does: an instant one keeps the GIL, and
    # thread 0 could run all 20 ops before thread 1 is ever scheduled again.
    history, opened = run(clients(limit(20, repeat({"f": "write"}))), concurrency=3, behaviour=boom,
                          latency=0.002)
    well_formed(history)
    crash = next(o for o in history if o.type == "info")
    assert crash.process == 1
    assert crash.extra["error"] == "ConnectionResetError: peer went away"
    processes = {o.process for o in history}
    assert 4 in processes  # thread 1 continues as 1 + concurrency
    assert [o for o in history if o.process == 1 and o.type == "invoke"].__len__() == 1
    assert ("close", 1) in opened and [t for w, t in opened if w == "open"].count(
        1
    ) == 2  # reopened
    assert history.workers[1] == 4
    assert history.stats.info == 1


def test_a_hanging_client_times_out_as_info_and_the_thread_goes_on():
    release = threading.Event()

    def hang(op):
        if op.process == 0 and op.f == "read":
            release.wait(5)

    try:
        t0 = time.monotonic()
        gen = clients([{"f": "read", "process": 0}, limit(6, repeat({"f": "write"}))])
        history, _ = run(gen, concurrency=1, behaviour=hang, op_timeout=0.2)
        elapsed = time.monotonic() - t0
    finally:
        release.set()
    well_formed(history)
    timed_out = history[1]
    assert (timed_out.type, timed_out.process) == ("info", 0)
    assert "timeout" in timed_out.extra["error"] and "0.2" in timed_out.extra["error"]
    assert 0.15 * 1e9 < timed_out.time - history[0].time < 1.0 * 1e9
    assert [o.process for o in history if o.f == "write"][0] == 1  # a new process, a new worker
    assert sum(1 for o in history if o.f == "write" and o.type == "ok") == 6
    assert history.stats.timeouts == 1
    assert elapsed < 2.0


def test_stop_ends_an_endless_run_promptly_and_completes_what_is_in_flight():
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    t0 = time.monotonic()
    history, _ = run(clients(repeat({"f": "read"})), concurrency=4, latency=0.002, stop=stop)
    elapsed = time.monotonic() - t0
    assert 0.25 < elapsed < 0.8
    well_formed(history)
    assert len(history) > 20


def test_stop_wakes_sleeping_ops():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    t0 = time.monotonic()
    history, _ = run(clients([sleep(30), {"f": "never"}]), concurrency=1, stop=stop)
    assert time.monotonic() - t0 < 1.0
    assert list(history) == []


def test_stagger_rate_is_respected_within_tolerance():
    gen = clients(time_limit(1.0, stagger(1 / 300, repeat({"f": "read"}))))
    t0 = time.monotonic()
    history, _ = run(gen, concurrency=10, latency=0.001)
    elapsed = time.monotonic() - t0
    n = sum(1 for o in history if o.type == "invoke")
    assert 210 <= n <= 390, n  # 300 ops/s, over all threads, for 1 s
    assert elapsed < 1.5


def test_delay_spacing_is_respected():
    history, _ = run(clients(limit(20, delay(0.01, repeat({"f": "read"})))), concurrency=4)
    times = [o.time for o in history if o.type == "invoke"]
    # Never ahead of the schedule (a late wake-up only moves it later)...
    assert all(t - times[0] >= i * 10 * MS - MS // 2 for i, t in enumerate(times))
    # ...and lateness does not add up (generous: this machine may be busy).
    assert (times[-1] - times[0]) / (len(times) - 1) < 16 * MS


def test_time_limit_ends_the_run_on_time():
    t0 = time.monotonic()
    history, _ = run(clients(time_limit(0.3, repeat({"f": "read"}))), concurrency=3, latency=0.001)
    assert 0.25 < time.monotonic() - t0 < 0.8
    well_formed(history)


def test_nemesis_ops_are_recorded_as_nemesis_info_and_retire_nothing():
    nem = FakeNemesis(fail_on="stop")
    gen = nemesis([{"f": "start"}, {"f": "stop"}, {"f": "start"}], limit(30, repeat({"f": "read"})))
    history, _ = run(gen, concurrency=2, nemesis_obj=nem, latency=0.001)
    checked = well_formed(history)
    nem_ops = checked.nemesis_ops
    assert [(o.type, o.f) for o in nem_ops] == [
        ("invoke", "start"),
        ("info", "start"),
        ("invoke", "stop"),
        ("info", "stop"),
        ("invoke", "start"),
        ("info", "start"),
    ]
    assert nem_ops[1].value == {"n1": ["n2"]}
    assert nem_ops[3].extra["error"] == "OSError: iptables: no such chain"
    assert nem.seen == ["start", "stop", "start"]
    assert history.workers["nemesis"] == "nemesis"
    assert history.stats.nemesis_ops == 3 and history.stats.ops == 30


def test_a_nemesis_schedule_without_a_nemesis_is_skipped():
    gen = nemesis([{"f": "start"}], limit(5, repeat({"f": "read"})))
    history, _ = run(gen, concurrency=2)
    assert {o.process for o in history} <= {0, 1}
    assert len(history) == 10


def test_a_client_that_cannot_open_at_start_fails_the_run_and_leaves_no_threads():
    before = threading.active_count()

    def factory(thread):
        if thread == 2:
            raise ConnectionRefusedError("n3:8080 refused")
        return FakeClient(thread, [])

    with pytest.raises(ConnectionRefusedError, match="n3:8080"):
        run_generator(
            None,
            clients(repeat({"f": "r"})),
            client_factory=factory,
            concurrency=3,
            record=lambda o: None,
        )
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_a_client_that_cannot_reopen_answers_fail_because_nothing_was_sent():
    opens = Counter()

    class Crashy(FakeClient):
        def invoke(self, test, op):
            raise TimeoutError("read timed out")

    def factory(thread):
        opens[thread] += 1
        if opens[thread] > 1:
            raise ConnectionRefusedError("node down")
        return Crashy(thread, [])

    history = run_generator(
        None,
        clients(limit(3, repeat({"f": "w"}))),
        client_factory=factory,
        concurrency=1,
        record=lambda o: None,
    )
    well_formed(history)
    assert [(o.process, o.type) for o in history if o.type != "invoke"] == [
        (0, "info"),
        (1, "fail"),
        (1, "fail"),
    ]
    assert history[3].extra["error"] == "could not open a client: ConnectionRefusedError: node down"


def test_a_nonsense_completion_becomes_info():
    def odd(op):
        return "yes" if op.f == "a" else dataclasses.replace(op, type="invoke")

    history, _ = run(clients([{"f": "a"}, {"f": "b"}]), concurrency=1, behaviour=odd)
    well_formed(history)
    assert [o.type for o in history] == ["invoke", "info", "invoke", "info"]
    assert "expected an Op" in history[1].extra["error"]
    assert "expected ok, fail or info" in history[3].extra["error"]


def test_a_dict_completion_is_accepted():
    history, _ = run(
        clients({"f": "read"}),
        concurrency=1,
        behaviour=lambda op: {"type": "ok", "value": 5, "node": "n1"},
    )
    assert (history[1].type, history[1].value, history[1].extra) == ("ok", 5, {"node": "n1"})


def test_sleep_and_phases_with_real_threads():
    gen = clients(phases(limit(4, repeat({"f": "a"})), sleep(0.1), {"f": "b"}))
    t0 = time.monotonic()
    history, _ = run(gen, concurrency=2, latency=0.01)
    assert time.monotonic() - t0 >= 0.1
    well_formed(history)
    assert [o.f for o in history if o.type == "invoke"] == ["a", "a", "a", "a", "b"]
    last_a = max(o.time for o in history if o.f == "a")
    b = next(o for o in history if o.f == "b")
    assert b.time - last_a >= 100 * MS


def test_a_generator_error_completes_in_flight_ops_then_propagates():
    def broken(test, ctx):
        if ctx.step > 6:
            raise KeyError("bad template")
        return {"f": "r"}

    recorded = []
    with pytest.raises(KeyError, match="bad template"):
        run_generator(
            None,
            clients(fn(broken)),
            client_factory=lambda t: FakeClient(t, [], latency=0.02),
            concurrency=3,
            record=recorded.append,
        )
    History(recorded)
    assert not any(p.open for p in History(recorded).pairs())


def test_a_second_run_continues_processes_and_indexes():
    def boom(op):
        if op.process == 0:
            raise RuntimeError("x")

    first, _ = run(clients(limit(4, repeat({"f": "a"}))), concurrency=2, behaviour=boom)
    second, _ = run(
        clients(limit(4, repeat({"f": "b"}))),
        concurrency=2,
        workers=first.workers,
        next_index=first.next_index,
        epoch_ns=time.monotonic_ns(),
    )
    assert second[0].index == len(first)
    assert 0 not in {o.process for o in second}
    History(list(first) + list(second))


def test_stats_measure_client_time_and_overhead():
    history, _ = run(clients(limit(200, repeat({"f": "read"}))), concurrency=4, latency=0.002)
    stats = history.stats.to_json()
    assert stats["ops"] == 200
    assert 200 * 0.002 <= stats["client_seconds"] < 200 * 0.02
    assert 0 <= stats["overhead_seconds"] < stats["seconds"] * 4
    assert (
        stats["ops_per_second"] > 0
        and "overhead_per_op_us" in stats
        and "overhead_fraction" in stats
    )


def test_a_busy_client_runs_its_next_op_itself_without_a_hand_off():
    """The worker whose op completed records it and the next op for its own thread: the
    calling thread only starts the run. So an op waits for no other thread to wake."""
    recorder = []
    run_generator(None, clients(limit(40, repeat({"f": "read"}))), client_factory=lambda t: FakeClient(t, []),
                  concurrency=1, record=lambda op: recorder.append((op.type, threading.current_thread().name)))
    assert recorder[0] == ("invoke", threading.current_thread().name)
    assert {name for _, name in recorder[1:]} == {"seam-worker-0"}
    assert len(recorder) == 80


def test_a_completion_is_stamped_when_its_call_returned_not_when_it_was_recorded():
    """Process 1's call returns while process 0's record holds the bookkeeping for 150 ms:
    its recorded latency is still its call's, and times never go backwards."""
    first = threading.Event()

    def record(op):
        if op.type == "ok" and op.process == 0 and not first.is_set():
            first.set()
            time.sleep(0.15)

    history = run_generator(None, clients(limit(2, repeat({"f": "read"}))),
                            client_factory=lambda t: FakeClient(t, [], latency=0.01 + 0.01 * t),
                            concurrency=2, record=record)
    well_formed(history)
    invoke, done = [o for o in history if o.process == 1]
    assert history.index(done) == 3  # recorded after process 0's slow record
    assert done.time - invoke.time < 100 * MS, (invoke, done)
    assert history.stats.waited_seconds >= 0.1  # the wait was paid, outside the latency


def test_a_record_error_on_a_worker_stops_the_run_and_propagates():
    seen = []

    def record(op):
        if len(seen) == 30:
            raise OSError("disk full")
        seen.append(op)

    started = time.monotonic()
    with pytest.raises(OSError, match="disk full"):
        run_generator(None, clients(repeat({"f": "read"})), client_factory=lambda t: FakeClient(t, [], latency=0.001),
                      concurrency=3, record=record)
    assert time.monotonic() - started < 5
    assert len(seen) == 30
    assert not [t for t in threading.enumerate() if t.name.startswith("seam-worker")]


def test_no_worker_threads_outlive_a_run():
    before = {t.name for t in threading.enumerate()}
    run(
        nemesis([{"f": "start"}], limit(50, repeat({"f": "read"}))),
        concurrency=5,
        nemesis_obj=FakeNemesis(),
    )
    time.sleep(0.05)
    left = {t.name for t in threading.enumerate()} - before
    assert not [n for n in left if n.startswith("seam-worker")], left


def test_op_timestamps_are_relative_to_the_epoch():
    epoch = time.monotonic_ns() - 5_000 * MS
    history, _ = run(clients({"f": "r"}), concurrency=1, epoch_ns=epoch)
    assert history[0].time >= 5_000 * MS


_SIGNALLED_RUN = """
import dataclasses, signal, threading, time
from harness.generator import clients, repeat, stagger
from harness.interpreter import run_generator

class Client:
    def invoke(self, test, op):
        return dataclasses.replace(op, type="ok")
    def close(self):
        pass

signal.signal(signal.SIGALRM, lambda *_: time.sleep(0.08))  # outlasts any wait of the loop
signal.setitimer(signal.ITIMER_REAL, 0.03, 0.1)
stop = threading.Event()
threading.Timer(1.5, stop.set).start()
history = run_generator(None, clients(stagger(0.2, repeat({"f": "read"}))), client_factory=lambda t: Client(),
                        nemesis=None, concurrency=2, record=lambda op: None, seed=1, stop=stop)
signal.setitimer(signal.ITIMER_REAL, 0)
print("ops", len(history))
"""


def test_a_signal_handler_that_outlasts_the_loops_wait_does_not_hang_the_run() -> None:
    """The loop waits for completions with a timeout. CPython's SimpleQueue.get(timeout)
    blocks forever when a signal handler runs past its deadline (it then waits with a
    negative timeout, which means no timeout): a SIGHUP hung a CI run there, with nothing
    in flight to wake it. Run in a child, so a hang fails the test instead of the suite."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    try:
        r = subprocess.run([sys.executable, "-c", _SIGNALLED_RUN], cwd=repo, capture_output=True, text=True,
                           timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the run never ended: the loop's wait hung after a signal")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ops ") and int(r.stdout.split()[1]) >= 8, r.stdout


def test_many_workers_crashing_hanging_and_a_nemesis_at_once_keep_the_history_well_formed():
    """The bookkeeping moves between threads with every completion: with 20 workers, random
    latencies, client errors, calls that outlive op_timeout, a nemesis and a stop, every
    invoke still gets exactly one completion, in order, and no process is used again
    after it was retired."""
    import random

    draws = random.Random(23)
    lock = threading.Lock()

    def chaos(op):
        with lock:
            roll, pause = draws.random(), draws.random() * 0.003
        time.sleep(pause)
        if roll < 0.03:
            raise ConnectionResetError("peer went away")
        if roll < 0.04:
            time.sleep(0.25)  # past op_timeout: the worker is abandoned, its answer ignored
        return None

    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    gen = nemesis(stagger(0.1, repeat({"f": "start"})), clients(repeat({"f": "read"})))
    history, _ = run(gen, concurrency=20, behaviour=chaos, nemesis_obj=FakeNemesis(), op_timeout=0.1, stop=stop)
    well_formed(history)
    by_process: dict = {}
    for o in history:
        if o.process != "nemesis":
            by_process.setdefault(o.process, []).append(o.type)
    for process, types in by_process.items():
        assert types[::2] == ["invoke"] * len(types[::2]), (process, types)
        assert "info" not in types[1::2][:-1], f"process {process} was used after it was retired"
    assert history.stats.timeouts > 0 and history.stats.info > history.stats.timeouts
    assert any(o.process == "nemesis" for o in history) and history.stats.ok > 500
    time.sleep(0.3)  # the abandoned calls end
    assert not [t for t in threading.enumerate() if t.name.startswith("seam-worker")]
