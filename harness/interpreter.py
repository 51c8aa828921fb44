"""Runs a generator for real: the only threaded code in Seam.

One worker thread per client thread plus one for the nemesis. The generator,
the history and the bookkeeping of which thread is free are one state behind
one lock (``_Run.lock``): every generator call and every ``record`` call
happens under it, so the generator stays a pure value and the history order
is the real-time order.

The worker whose op just completed does the bookkeeping itself: under the
lock it records the completion, asks the generator for every op that is due,
hands ops for other threads to their workers, and goes straight on with an
op for its own thread. So the usual op costs no thread hand-off at all; an
earlier design ran one main loop that every completion had to wake and every
invoke had to wake a worker from, and on a machine whose cores the system
under test keeps busy those two wake-ups were most of the harness's share of
an op's latency (issue 23: 17% of it at 10 clients on the pipeline).

The calling thread keeps what depends on time alone: ops scheduled for later
(a rate, a delay), op deadlines, ``stop``. It sleeps on a condition of the
lock until the next of those, capped at ``WAKE_S`` so that ``stop`` is
noticed promptly; a worker wakes it early when it learns of something sooner.

Rules (DESIGN section 3): a client exception, an op that outlives
``op_timeout`` or a completion that makes no sense becomes ``info`` with an
``error``, and the process is retired (its thread continues as process +
concurrency, with a freshly opened client). A client that cannot even be
reopened answers ``fail``: the op was never sent. Nemesis ops are recorded
with process ``"nemesis"``; their ``info`` retires nothing. An error from the
generator or from ``record`` on any thread stops new ops; the ops in flight
complete or time out, then ``run_generator`` raises it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.core.errors import ConfigError
from harness.core.op import Op
from harness.core.protocols import Test
from harness.generator.context import NEMESIS, PENDING, Context
from harness.generator.core import op as gen_op
from harness.generator.core import update as gen_update
from harness.generator.simulate import SPECIAL_TYPES, invoke_op

__all__ = ["RunHistory", "Stats", "run_generator"]

log = logging.getLogger("seam.interpreter")

#: Longest the calling thread sleeps without looking at ``stop`` and the generator.
WAKE_S = 0.05
_COMPLETION_TYPES = frozenset(("ok", "fail", "info"))
_STOP: Any = object()


@dataclass
class Stats:
    """What the run cost, for ``bench/harness.py`` and results.json.

    ``overhead_seconds`` sums, over client ops, the recorded latency (completion
    time minus invoke time) minus the time inside the client (open, invoke,
    close): the harness's own share of the latency the history shows.
    ``to_worker_seconds`` is the part before the worker started the call (an op
    handed to another thread waits for that thread to wake). A completion is
    stamped when the call returned, so the wait for the lock after it is not
    latency; ``waited_seconds`` sums it (the lock, then the bookkeeping), which
    costs throughput instead. ``generator_seconds`` and ``record_seconds`` are
    time under the lock in the generator and in ``record``;
    ``loop_cpu_seconds`` is the CPU all the bookkeeping under the lock used, on
    every thread; ``seconds`` is wall time from the first op's clock start.
    """

    ops: int = 0
    nemesis_ops: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    timeouts: int = 0
    seconds: float = 0.0
    client_seconds: float = 0.0
    overhead_seconds: float = 0.0
    generator_seconds: float = 0.0
    record_seconds: float = 0.0
    to_worker_seconds: float = 0.0
    waited_seconds: float = 0.0
    loop_cpu_seconds: float = 0.0

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def overhead_fraction(self) -> float:
        """Harness overhead per op as a fraction of client latency (goal: < 0.05)."""
        return self.overhead_seconds / self.client_seconds if self.client_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["ops_per_second"] = self.ops_per_second
        row["overhead_fraction"] = self.overhead_fraction
        row["overhead_per_op_us"] = 1e6 * self.overhead_seconds / self.ops if self.ops else 0.0
        return row


class RunHistory(list):
    """The recorded ops (a plain list) plus ``stats`` and the final thread -> process map.

    Pass ``workers`` and ``next_index`` to a later ``run_generator`` call (final reads)
    so that retired processes are never reused and indexes keep counting.
    """

    stats: Stats
    workers: dict
    next_index: int


@dataclass(eq=False)
class _Worker:
    """One OS thread serving one generator thread. Replaced (and abandoned) on a timeout."""

    thread: Any
    inbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    os_thread: threading.Thread | None = None


@dataclass(eq=False)
class _InFlight:
    op: Op
    worker: _Worker
    deadline_ns: int  # monotonic_ns


def run_generator(
    test: Test | None,
    gen: Any,
    *,
    client_factory: Callable[[int], Any],
    nemesis: Any | None = None,
    concurrency: int,
    record: Callable[[Op], None],
    seed: int = 0,
    op_timeout: float = 10.0,
    stop: threading.Event | None = None,
    nemesis_timeout: float | None = None,
    epoch_ns: int | None = None,
    workers: Mapping[Any, Any] | None = None,
    next_index: int = 0,
) -> RunHistory:
    """Run ``gen`` with ``concurrency`` client threads (and the nemesis) until it is exhausted.

    ``client_factory(thread)`` returns an OPENED client for that thread (e.g.
    ``lambda t: base.open(test, nodes[t % len(nodes)])``); it is called once
    per thread before the clock starts (in parallel, on the workers; the
    first error is raised) and again on a thread's worker whenever its
    process was retired. ``record(op)`` gets every recorded op, on this
    thread, in order. ``stop.set()`` ends the run: no new ops; ops in flight
    complete or time out. ``nemesis_timeout`` defaults to max(op_timeout, 60 s).
    ``epoch_ns`` (a ``time.monotonic_ns()`` value) is time zero for op times
    (default: when the clients are open); ``workers`` and ``next_index``
    continue an earlier run (see ``RunHistory``). ``record`` runs under the lock that
    every worker needs after its call: it should not let go of the GIL (``RunStore``'s
    write keeps it), or the whole run waits while another thread has it.
    """
    run = _Run(
        test,
        gen,
        client_factory=client_factory,
        nemesis=nemesis,
        concurrency=concurrency,
        record=record,
        seed=seed,
        op_timeout=op_timeout,
        nemesis_timeout=max(op_timeout, 60.0) if nemesis_timeout is None else nemesis_timeout,
        stop=stop or threading.Event(),
        epoch_ns=epoch_ns,
        workers=workers,
        next_index=next_index,
    )
    return run.run()


class _Run:
    """The state of one ``run_generator`` call. ``_loop`` runs on the calling thread,
    ``_serve`` on each worker; every method that touches the state holds ``lock``."""

    def __init__(
        self,
        test: Test | None,
        gen: Any,
        *,
        client_factory,
        nemesis,
        concurrency,
        record,
        seed,
        op_timeout,
        nemesis_timeout,
        stop,
        epoch_ns,
        workers,
        next_index,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        self.test = test
        self.gen = gen
        self.client_factory = client_factory
        self.nemesis = nemesis
        self.concurrency = concurrency
        self.record_fn = record
        self.seed = seed
        self.op_timeout_ns = int(op_timeout * 1e9)
        self.nemesis_timeout_ns = int(nemesis_timeout * 1e9)
        self.stop = stop
        self.halt = threading.Event()  # wakes sleeping workers when the run ends
        self.epoch_ns = epoch_ns
        self.lock = threading.Lock()
        # An Event, not a SimpleQueue: CPython's SimpleQueue.get(timeout) waits forever once
        # a signal handler runs past its deadline (it retries with a negative timeout), and
        # the calling thread waits with a timeout and takes every signal. A SIGHUP hung a run so.
        self.wake = threading.Event()
        self.loop_asleep_until = 0  # monotonic ns the calling thread wakes by itself; 0 = awake
        self.next_op_ns: int | None = None  # epoch ns of the generator's next scheduled op
        self.last_time = 0  # epoch ns of the op recorded last
        self.stopping = False
        self.failure: BaseException | None = None
        start = {
            t: p for t, p in (workers or {t: t for t in range(concurrency)}).items() if t != NEMESIS
        }
        if nemesis is not None:
            start[NEMESIS] = NEMESIS
        self.workers_map: dict = start
        self.shared: dict = {}  # Context caches for this workers_map
        self.by_process = {p: t for t, p in start.items()}
        self.free: set = set(start)
        self.free_frozen: frozenset | None = None
        self.in_flight: dict[Any, _InFlight] = {}
        self.current: dict[Any, _Worker] = {}
        self.history = RunHistory()
        self.index = next_index
        self.step = 0
        self.stats = Stats()

    # -- lifecycle --------------------------------------------------------------
    def run(self) -> RunHistory:
        self._start_workers()
        wall = time.perf_counter()
        if self.epoch_ns is None:
            self.epoch_ns = time.monotonic_ns()
        try:
            self._loop()
        except BaseException:
            self.halt.set()
            self._drain_after_error()
            raise
        finally:
            self.halt.set()
            self._stop_workers()
            self.stats.seconds = time.perf_counter() - wall
            self.history.stats = self.stats
            self.history.workers = dict(self.workers_map)
            self.history.next_index = self.index
        return self.history

    def _start_workers(self) -> None:
        """Open every client in parallel, each on its own worker; raise the first failure."""
        ready: queue.SimpleQueue = queue.SimpleQueue()
        for thread in self.workers_map:
            self._spawn(thread, ready)
        errors = []
        for _ in self.workers_map:
            thread, error = ready.get()
            if error is not None:
                errors.append((thread, error))
        if errors:
            self.halt.set()
            self._stop_workers()
            thread, error = min(errors, key=lambda e: str(e[0]))
            raise error

    def _spawn(self, thread: Any, ready: queue.SimpleQueue | None) -> _Worker:
        worker = _Worker(thread)
        self.current[thread] = worker
        process = self.workers_map[thread]
        worker.os_thread = threading.Thread(
            target=self._serve,
            args=(worker, process, ready),
            name=f"seam-worker-{thread}",
            daemon=True,
        )
        worker.os_thread.start()
        return worker

    def _stop_workers(self) -> None:
        for worker in self.current.values():
            worker.inbox.put(_STOP)
        deadline = time.monotonic() + 5.0
        for worker in self.current.values():
            if worker.os_thread is not None and worker.thread not in self.in_flight:
                worker.os_thread.join(max(0.0, deadline - time.monotonic()))

    # -- the worker side --------------------------------------------------------
    def _serve(self, worker: _Worker, process: Any, ready: queue.SimpleQueue | None) -> None:
        """Worker body: open (eagerly at start), then run ops until told to stop.

        After each op it does the bookkeeping itself (``_after``), which may hand it
        its next op at once; only when it has none does it wait on its inbox.
        """
        is_nemesis = worker.thread == NEMESIS
        session = _Session(self.nemesis if is_nemesis else None, process)
        if ready is not None:
            try:
                if not is_nemesis:
                    session.client = self.client_factory(worker.thread)
            except BaseException as e:  # reported to the calling thread, which raises it
                ready.put((worker.thread, e))
                return
            ready.put((worker.thread, None))
        clock = time.monotonic_ns  # the clock op times are on, so a completion keeps its own
        invoke = worker.inbox.get()
        while invoke is not _STOP:
            began = clock()
            done = self._call(worker, session, invoke, is_nemesis)
            nxt = self._after(worker, invoke, done, began, clock())
            invoke = worker.inbox.get() if nxt is None else nxt
        if not is_nemesis:
            _close(session.client)

    def _call(self, worker: _Worker, session: _Session, invoke: Op, is_nemesis: bool) -> Any:
        """Perform one op on this worker: a special op, or the client's call (reopening it first
        when the process changed). Returns the client's answer, or a fail/info op."""
        if invoke.type in SPECIAL_TYPES:
            if invoke.type == "sleep":
                self.halt.wait(float(invoke.value or 0))
            else:
                log.info("generator log: %s", invoke.value)
            return invoke
        if not is_nemesis and (session.client is None or session.process != invoke.process):
            _close(session.client)
            session.client = None
            try:
                session.client = self.client_factory(worker.thread)
                session.process = invoke.process
            except Exception as e:
                return _failed(invoke, f"could not open a client: {_describe(e)}")
        try:
            return session.client.invoke(self.test, invoke)
        except Exception as e:
            if not is_nemesis:
                _close(session.client)
                session.client = None
            return _crashed(invoke, _describe(e))

    def _after(self, worker: _Worker, invoke: Op, done: Any, began: int, ended: int) -> Any:
        """Record the completion and dispatch what is due, under the lock.

        Returns this worker's next op, ``_STOP`` when the worker was abandoned (its op
        timed out), or None (wait on the inbox).
        """
        cpu = time.thread_time_ns()
        with self.lock:
            try:
                nxt = self._pump(own=worker.thread) if self._complete(worker, invoke, done, began, ended) else _STOP
            except BaseException as e:
                self._fail(e)
                nxt = None
            finally:
                self.stats.loop_cpu_seconds += (time.thread_time_ns() - cpu) / 1e9
        return nxt

    # -- the shared state (callers hold the lock) -------------------------------
    def _now(self) -> int:
        return time.monotonic_ns() - self.epoch_ns

    def _context(self, now: int) -> Context:
        if self.free_frozen is None:
            self.free_frozen = frozenset(self.free)
        return Context(now, self.free_frozen, self.workers_map, self.seed, self.step, self.shared)

    def _pump(self, own: Any = None) -> Any:
        """Dispatch every op the generator has due now. An op for thread ``own`` (the caller's
        own, now free) is returned for the caller to run; the others go to their workers."""
        perf = time.perf_counter_ns
        mine = None
        # With no thread free the generator can only say "pending": it is not asked (it was,
        # once per op, for a quarter of the bookkeeping); the next completion asks it.
        while self.free and not self.stopping and self.gen is not None and self.failure is None:
            now = self._now()
            t0 = perf()
            answer = gen_op(self.gen, self.test, self._context(now))
            self.stats.generator_seconds += (perf() - t0) / 1e9
            self.next_op_ns = None
            if answer is None:
                self.gen = None
                break
            template, after = answer
            if template is PENDING:
                break
            at = template["time"]
            if at > now:
                self.next_op_ns = at
                break
            thread = self.by_process.get(template["process"])
            if thread is None or thread not in self.free:
                log.warning("generator emitted %r for a process that is not free; waiting", template)
                break
            invoke = self._dispatch(thread, template, after, handed=thread != own)
            if thread == own:
                mine = invoke
        self._wake_loop_if_needed()
        return mine

    def _dispatch(self, thread: Any, template: dict, after: Any, handed: bool) -> Op:
        """Record the invoke, mark the thread busy and update the generator. A ``handed`` op
        goes to its worker first, so that the worker starts while this thread records."""
        now = self._now()
        special = template["type"] in SPECIAL_TYPES
        invoke = invoke_op(template, -1 if special else self.index, now)
        if not special:
            self.index += 1
        budget = self.nemesis_timeout_ns if thread == NEMESIS else self.op_timeout_ns
        if special and template["type"] == "sleep":
            budget += int(float(template.get("value") or 0) * 1e9)
        worker = self.current[thread]
        deadline = time.monotonic_ns() + budget
        if handed:
            self.in_flight[thread] = _InFlight(invoke, worker, deadline)
            worker.inbox.put(invoke)
            if not special:
                self._record(invoke)
        self.free.discard(thread)
        self.free_frozen = None
        self.step += 1
        t0 = time.perf_counter_ns()
        self.gen = gen_update(after, self.test, self._context(now), invoke)
        self.stats.generator_seconds += (time.perf_counter_ns() - t0) / 1e9
        if not handed:
            # The caller runs it as soon as the lock is released: its time is now, after the
            # generator's update, so the recorded latency is the call's and not the bookkeeping's.
            invoke = replace(invoke, time=self._now())
            if not special:
                self._record(invoke)
            # in flight once recorded: an invoke whose record failed never runs
            self.in_flight[thread] = _InFlight(invoke, worker, deadline)
        if deadline < self.loop_asleep_until:
            self._wake_loop()
        return invoke

    def _wake_loop_if_needed(self) -> None:
        """Wake the calling thread when it sleeps past what it must do next: the generator's
        next scheduled op, or the end of the run."""
        if not self.loop_asleep_until:
            return
        if self.next_op_ns is not None and self.next_op_ns + self.epoch_ns < self.loop_asleep_until:
            self._wake_loop()
        elif (self.stopping or self.gen is None or self.failure is not None) and not self.in_flight:
            self._wake_loop()

    def _wake_loop(self) -> None:
        self.loop_asleep_until = 0
        self.wake.set()

    def _fail(self, error: BaseException) -> None:
        """A generator or record error on a worker: no new ops; the calling thread raises it."""
        if self.failure is None:
            self.failure = error
        self.gen = None
        if self.loop_asleep_until:
            self._wake_loop()

    # -- the calling thread -----------------------------------------------------
    def _loop(self) -> None:
        """Dispatch what is due by time (scheduled ops, deadlines, ``stop``); sleep between."""
        while True:
            with self.lock:
                self.wake.clear()
                self.loop_asleep_until = 0  # awake: workers need not wake it
                if self.failure is not None:
                    raise self.failure
                self._expire()
                if not self.stopping and self.stop.is_set():
                    self.stopping = True
                    self.halt.set()
                    log.info("stop requested: no new ops; %d in flight", len(self.in_flight))
                if (self.stopping or self.gen is None) and not self.in_flight:
                    return
                cpu = time.thread_time_ns()
                self._pump()
                self.stats.loop_cpu_seconds += (time.thread_time_ns() - cpu) / 1e9
                if self.gen is None and not self.in_flight and self.failure is None:
                    return
                wait_s = self._plan_sleep()
            self.wake.wait(wait_s)

    def _plan_sleep(self) -> float:
        """How long the calling thread may sleep: until the next op's time, the next deadline,
        or WAKE_S. A worker that learns of something sooner sets ``wake``."""
        wait_ns = int(WAKE_S * 1e9)
        mono = time.monotonic_ns()
        if self.next_op_ns is not None:
            wait_ns = min(wait_ns, self.next_op_ns + self.epoch_ns - mono)
        if self.in_flight:
            soonest = min(f.deadline_ns for f in self.in_flight.values())
            wait_ns = min(wait_ns, soonest - mono)
        wait_ns = max(0, wait_ns)
        self.loop_asleep_until = mono + wait_ns
        return wait_ns / 1e9


    def _complete(self, worker: _Worker, invoke: Op, done: Any, began: int, ended: int) -> bool:
        """Record a worker's completion; False when the worker was abandoned (ignored)."""
        flight = self.in_flight.get(worker.thread)
        if flight is None or flight.worker is not worker or flight.op is not invoke:
            log.info("late completion from an abandoned worker ignored: %r", done)
            return False
        del self.in_flight[worker.thread]
        if invoke.type in SPECIAL_TYPES:
            self._finish(worker.thread, invoke)
            return True
        # Stamped when the call returned, not when the lock was won; never before the op
        # recorded last, so times never go backwards in index order (a completion recorded
        # late only looks longer: the history stays sound).
        at = max(ended - self.epoch_ns, self.last_time)
        completion = _completion(invoke, done, self.index, at)
        self._finish(worker.thread, completion)
        if invoke.process != NEMESIS:
            client_ns = ended - began
            self.stats.client_seconds += client_ns / 1e9
            self.stats.overhead_seconds += max(0, at - invoke.time - client_ns) / 1e9
            self.stats.to_worker_seconds += max(0, began - self.epoch_ns - invoke.time) / 1e9
            self.stats.waited_seconds += max(0, time.monotonic_ns() - ended) / 1e9
        return True

    def _expire(self) -> None:
        """Ops past their deadline complete as ``info``; their worker is abandoned."""
        if not self.in_flight:
            return
        mono = time.monotonic_ns()
        for thread, flight in list(self.in_flight.items()):
            if flight.deadline_ns > mono:
                continue
            del self.in_flight[thread]
            flight.worker.inbox.put(_STOP)  # it exits once its call returns, if ever
            self._spawn(thread, None)
            if flight.op.type in SPECIAL_TYPES:
                self._finish(thread, flight.op)
                continue
            limit = (self.nemesis_timeout_ns if thread == NEMESIS else self.op_timeout_ns) / 1e9
            self.stats.timeouts += 1
            log.warning(
                "op %s by process %s timed out after %.3gs", flight.op.f, flight.op.process, limit
            )
            error = f"timeout: no completion within op_timeout={limit:g}s"
            self._finish(thread, _crashed(flight.op, error, self.index, self._now()))

    def _finish(self, thread: Any, completion: Op) -> None:
        """Record a completion, free its thread, update the generator, retire a crashed process."""
        special = completion.type in SPECIAL_TYPES
        if not special:
            self.index += 1
            self._record(completion)
            self._count(completion)
        self.free.add(thread)
        self.free_frozen = None
        self.step += 1
        if self.gen is not None:
            t0 = time.perf_counter_ns()
            self.gen = gen_update(self.gen, self.test, self._context(completion.time), completion)
            self.stats.generator_seconds += (time.perf_counter_ns() - t0) / 1e9
        if completion.type == "info" and thread != NEMESIS:
            old = self.workers_map[thread]
            new = old + self.concurrency
            # A new dict, so contexts already handed out stay valid.
            self.workers_map = {**self.workers_map, thread: new}
            self.shared = {}
            del self.by_process[old]
            self.by_process[new] = thread

    def _record(self, op: Op) -> None:
        t0 = time.perf_counter_ns()
        self.record_fn(op)
        self.history.append(op)
        self.last_time = op.time
        self.stats.record_seconds += (time.perf_counter_ns() - t0) / 1e9

    def _count(self, op: Op) -> None:
        if op.process == NEMESIS:
            self.stats.nemesis_ops += 1
            return
        self.stats.ops += 1
        if op.type == "ok":
            self.stats.ok += 1
        elif op.type == "fail":
            self.stats.fail += 1
        else:
            self.stats.info += 1

    def _drain_after_error(self) -> None:
        """After a generator or record error: let what is in flight complete or time out."""
        try:
            while True:
                with self.lock:
                    self.wake.clear()
                    self.gen = None
                    self.stopping = True
                    self._expire()
                    if not self.in_flight:
                        break
                    wait_s = self._plan_sleep()
                self.wake.wait(wait_s)
        except Exception:
            log.exception("could not complete the ops in flight after an error")


@dataclass(eq=False)
class _Session:
    """A worker's open client and the process it was opened for."""

    client: Any
    process: Any


def _describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _failed(invoke: Op, error: str) -> Op:
    return Op(
        invoke.index,
        invoke.time,
        invoke.process,
        "fail",
        invoke.f,
        invoke.value,
        False,
        {**invoke.extra, "error": error},
    )


def _crashed(invoke: Op, error: str, index: int | None = None, now: int | None = None) -> Op:
    return Op(
        invoke.index if index is None else index,
        invoke.time if now is None else now,
        invoke.process,
        "info",
        invoke.f,
        invoke.value,
        False,
        {**invoke.extra, "error": error},
    )


def _completion(invoke: Op, done: Any, index: int, now: int) -> Op:
    """The recorded completion: the client's answer, re-stamped; nonsense becomes ``info``."""
    if isinstance(done, dict):
        done = _from_dict(invoke, done)
    if not isinstance(done, Op):
        return _crashed(
            invoke, f"client returned {type(done).__name__}, expected an Op", index, now
        )
    if done.type not in _COMPLETION_TYPES:
        return _crashed(
            invoke, f"client returned type {done.type!r}, expected ok, fail or info", index, now
        )
    return Op(
        index,
        now,
        invoke.process,
        done.type,
        done.f or invoke.f,
        done.value,
        done.unknown,
        done.extra,
    )


def _from_dict(invoke: Op, row: dict) -> Any:
    extra = {
        k: v
        for k, v in row.items()
        if k not in ("index", "time", "process", "type", "f", "value", "unknown")
    }
    return Op(
        invoke.index,
        invoke.time,
        invoke.process,
        str(row.get("type")),
        row.get("f", invoke.f),
        row.get("value", invoke.value),
        bool(row.get("unknown", False)),
        extra,
    )


def _close(client: Any) -> None:
    if client is None:
        return
    try:
        client.close()
    except Exception as e:  # a broken connection may not close cleanly; the new one matters
        log.debug("closing a client failed: %s", _describe(e))
