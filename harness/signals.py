"""Stopping a run from outside: Ctrl-C, and the signals that CI systems and terminals send.

A run stopped from outside must still leave the cluster as it found it (no
node process, no iptables rule, no stopped process) and a checkable run
directory, because that is when people most need to know what happened.
So a signal never kills the control node: it sets an event that the
generator and the interpreter watch, and the runner's scopes do the rest.

* SIGINT (Ctrl-C) escalates in three steps, for a person at a terminal:
  the first ends the main phase (the final heal, recovery and final reads
  still run), the second stops the generator at once, the third aborts.
* SIGTERM (``timeout``, a cancelled CI job, ``docker stop``, systemd) and
  SIGHUP (the terminal or SSH session went away) stop the generator at
  once: in-flight ops complete or time out, then heal, collect, check what
  was recorded, write results. Whoever sends SIGTERM usually sends SIGKILL
  a few seconds later, so there is no time for final reads.
  A second one aborts.

Aborting raises ``RunAborted`` (a KeyboardInterrupt) in the main thread; the
runner's scopes still heal the nemesis and stop every node. The scopes
unwind inside ``cleanup_stack``: an abort that arrives while they unwind
waits until they are done (a KeyboardInterrupt in the middle of a teardown
loop would leave the remaining nodes running), and signals after the abort
are only reported, so nothing cuts the heal short.

Once the nodes are healed and stopped, only checking is left, and the history
is on disk: any of these signals then cuts the check short at once (abort,
no verdict; ``seam check <run dir>`` checks the saved run again). Waiting
for a second signal would only make whoever sent it reach for SIGKILL.

A repeat of the same signal within ``REPEAT_WINDOW_S`` of the first counts
as the same request: ``timeout`` sends its signal to the child and then to
the child's whole process group, so one timeout delivers SIGTERM twice.

The handler takes no lock. It runs in the main thread between two bytecodes,
maybe while that thread holds a lock the handler would need (an event's
inside ``Event.wait``, a stream's), and then it would wait for itself
forever. So it only decides (plain attributes), raises an abort, and queues
what must be done (set the events, print) for a watcher thread, woken
through a pipe. What the main thread waits on must survive a handler too:
see the interpreter's completion queue (a SIGHUP hung CI runs there).

A run asked to stop should be done within about a minute (in-flight ops time
out, the heal and the teardown are bounded). If it is still going
``STOP_WATCHDOG_S`` after the first stop, every thread's stack goes to stderr,
so a hung stop says where it hangs instead of just being killed.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("seam.runner")

#: Signals handled while a run is going; each maps to how it escalates.
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: A second copy of a signal sooner than this after the first is the same request (see module
#: doc); short enough that two deliberate presses of Ctrl-C still count as two.
REPEAT_WINDOW_S = 0.25

#: Seconds after the first stop request before a run still going dumps its threads' stacks.
STOP_WATCHDOG_S = 60.0

#: The stacks go to the process's own stderr, whatever ``sys.stderr`` has become.
STDERR_FD = 2

#: How long leaving ``installed`` waits for the watcher to finish what the handlers queued.
WATCHER_JOIN_S = 2.0


class RunAborted(KeyboardInterrupt):
    """The run was aborted by a signal; ``reason`` says which and how often."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stops:
    """Two events the run watches: ``main`` (end the main phase) and ``hard`` (stop the generator).

    ``signal`` is the name of the first signal that stopped the run (None
    while nobody has asked); ``aborted`` is set once a signal aborted it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.main = threading.Event()
        self.hard = threading.Event()
        self._main = False  # what was asked, known at once (the events follow from a thread)
        self._hard = False
        self.signal: str | None = None
        self.aborted = False
        self._clock = clock
        self._last: tuple[str, float] | None = None
        self._holding = 0  # > 0 while scopes unwind: an abort waits for them
        self._pending: str | None = None  # the reason of an abort that is waiting
        self._effects: deque[Callable[[], None]] = deque()  # for the watcher (deque.append takes no lock)
        self._wake_fd: int | None = None  # the watcher's pipe, while handlers are installed
        self.checking = False  # nodes stopped, only the check left: a signal cuts it short

    # -- what each signal does --------------------------------------------------

    def receive(self, signum: int) -> None:
        """The handler: SIGINT climbs the Ctrl-C ladder; SIGTERM and SIGHUP stop, then abort."""
        name = signal.Signals(signum).name
        if self._repeat(name):
            log.info("%s again within %.1fs: the same request, ignored", name, REPEAT_WINDOW_S)
            return
        if self.checking:
            self.cut_check(name)
        elif signum == signal.SIGINT:
            self.press()
        else:
            self.terminate(name)

    def press(self) -> None:
        """Ctrl-C: end the main phase, then stop now, then abort."""
        if self.aborted:
            self._say("Ctrl-C: already aborting; healing and stopping the nodes first")
        elif not self._main:
            self._note("SIGINT")
            self._raise(main=True)
            self._say("Ctrl-C: ending the main phase; final heal and reads still run (Ctrl-C again to stop now)")
        elif not self._hard:
            self._raise(hard=True)
            self._say("Ctrl-C: stopping now; in-flight ops complete or time out (Ctrl-C again to abort)")
        elif self.signal in (None, "SIGINT"):
            self._abort("interrupted (Ctrl-C three times)")
        else:
            self._abort(f"aborted by SIGINT after {self.signal}")

    def terminate(self, name: str) -> None:
        """SIGTERM or SIGHUP: stop the generator now and check what was recorded; again: abort."""
        if self.aborted:
            self._say(f"{name}: already aborting; healing and stopping the nodes first")
        elif not self._hard:
            self._note(name)
            self._raise(main=True, hard=True)
            self._say(f"{name}: stopping the run; healing, collecting and checking what was recorded "
                      f"(send {name} again to abort without a verdict; the nodes are still healed and stopped)")
        else:
            again = f"a second {name}" if name == self.signal else f"{name} after {self.signal}"
            self._abort(f"aborted by {again}")

    def cut_check(self, name: str) -> None:
        """Any stop signal once the nodes are stopped: abort the check (module doc)."""
        if self.aborted:
            self._say(f"{name}: already stopping the check")
            return
        self._note(name)
        self._abort(f"{name} while checking: the check was cut short (the history is saved; "
                    "`seam check <run dir>` checks it again)")

    def _raise(self, *, main: bool = False, hard: bool = False) -> None:
        """Note the request here at once; set the events later, off the handler (module doc)."""
        events = []
        if main and not self._main:
            self._main = True
            events.append(self.main)
        if hard and not self._hard:
            self._hard = True
            events.append(self.hard)
        for event in events:
            self._later(event.set)
        if self.hard in events and self._wake_fd is not None:  # a real run, not a caller's own loop
            self._later(_arm_stop_watchdog)

    def _later(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` on the watcher thread while handlers are installed, else now.

        Outside ``installed`` nothing runs in a signal handler (a caller on another
        thread, a test), so doing it now is safe and keeps the order plain.
        """
        fd = self._wake_fd
        if fd is None:
            effect()
            return
        self._effects.append(effect)
        try:
            os.write(fd, b"\1")
        except BlockingIOError:  # the pipe is full of wake-ups: the watcher is awake already
            pass

    def _note(self, name: str) -> None:
        if self.signal is None:
            self.signal = name

    def _abort(self, reason: str) -> None:
        self.aborted = True
        self._raise(main=True, hard=True)
        self._say(reason if self.checking else f"{reason}: aborting; healing the faults and stopping every node")
        if self._holding:
            self._pending = reason  # raised when the scopes have unwound
            return
        raise RunAborted(reason)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Inside, an abort is noted, not raised; it is raised when the block ends cleanly."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if self._pending is not None and not self._holding:
            reason, self._pending = self._pending, None
            raise RunAborted(reason)

    def cleanup_stack(self) -> contextlib.ExitStack:
        """An ExitStack whose unwinding (heal, collect, teardown, cluster down) no abort interrupts."""
        return _HeldExitStack(self)

    def _repeat(self, name: str) -> bool:
        now = self._clock()
        last, self._last = self._last, (name, now)
        return last is not None and last[0] == name and now - last[1] < REPEAT_WINDOW_S

    def stopped(self) -> None:
        """The run has healed and stopped its nodes: disarm the watchdog (checking may take long),
        and from now on a signal cuts the check short (module doc)."""
        faulthandler.cancel_dump_traceback_later()
        self.checking = True

    def _say(self, message: str) -> None:
        self._later(lambda: _print(message))

    # -- installing the handlers -------------------------------------------------

    @contextlib.contextmanager
    def installed(self, install: bool = True) -> Iterator[Stops]:
        """Handle SIGINT, SIGTERM and SIGHUP inside the block; the previous handlers after it.

        Only the main thread can install handlers; elsewhere (and with
        ``install=False``, for callers that handle signals themselves) the
        block runs with the events alone.
        """
        if not install or threading.current_thread() is not threading.main_thread():
            yield self
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        watcher = threading.Thread(target=self._watch, args=(read_fd,), name="seam-signals", daemon=True)
        watcher.start()
        self._wake_fd = write_fd
        previous = {s: signal.signal(s, lambda signum, _frame: self.receive(signum)) for s in HANDLED}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._wake_fd = None
            os.set_blocking(write_fd, True)
            os.write(write_fd, b"\0")  # the watcher runs what is queued, then ends
            watcher.join(WATCHER_JOIN_S)
            os.close(write_fd)
            if not watcher.is_alive():
                os.close(read_fd)
            self._run_effects()  # anything the watcher did not reach
            faulthandler.cancel_dump_traceback_later()

    def _watch(self, read_fd: int) -> None:
        """The watcher thread: run queued effects on each wake-up until told to end (a 0 byte)."""
        while True:
            data = os.read(read_fd, 256)
            self._run_effects()
            if not data or b"\0" in data:
                return

    def _run_effects(self) -> None:
        while self._effects:
            effect = self._effects.popleft()
            try:
                effect()
            except Exception:  # one failed print must not keep the events unset
                log.exception("signal handling: a queued step failed")


def _arm_stop_watchdog() -> None:
    """Dump every thread's stack to stderr if the run is still going ``STOP_WATCHDOG_S`` from now."""
    faulthandler.dump_traceback_later(STOP_WATCHDOG_S, exit=False, file=STDERR_FD)


def _print(message: str) -> None:
    log.warning(message)
    sys.stderr.write(f"\nseam: {message}\n")
    sys.stderr.flush()


class _HeldExitStack(contextlib.ExitStack):
    """``Stops.cleanup_stack``: unwinds (``close`` or leaving the block) while holding aborts."""

    def __init__(self, stops: Stops) -> None:
        super().__init__()
        self._stops = stops

    def __exit__(self, *exc: Any) -> bool:
        with self._stops.holding():
            return bool(super().__exit__(*exc))
