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

A repeat of the same signal within ``REPEAT_WINDOW_S`` of the first counts
as the same request: ``timeout`` sends its signal to the child and then to
the child's whole process group, so one timeout delivers SIGTERM twice.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("seam.runner")

#: Signals handled while a run is going; each maps to how it escalates.
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: A second copy of a signal sooner than this after the first is the same request (see module
#: doc); short enough that two deliberate presses of Ctrl-C still count as two.
REPEAT_WINDOW_S = 0.25


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

    # -- what each signal does --------------------------------------------------

    def receive(self, signum: int) -> None:
        """The handler: SIGINT climbs the Ctrl-C ladder; SIGTERM and SIGHUP stop, then abort."""
        name = signal.Signals(signum).name
        if self._repeat(name):
            log.info("%s again within %.1fs: the same request, ignored", name, REPEAT_WINDOW_S)
            return
        if signum == signal.SIGINT:
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

    def _raise(self, *, main: bool = False, hard: bool = False) -> None:
        """Set the events from a helper thread, and note them here at once.

        A handler runs in the main thread between two bytecodes, possibly while that
        thread holds an event's own lock (a plain Lock, inside ``Event.wait``); calling
        ``set()`` there waits for itself forever. It happened: a SIGHUP 0.3 s into the
        main phase, on a loaded machine, and the run never moved again.
        """
        events = []
        if main and not self._main:
            self._main = True
            events.append(self.main)
        if hard and not self._hard:
            self._hard = True
            events.append(self.hard)

        def set_all() -> None:
            for event in events:
                event.set()

        if events:
            threading.Thread(target=set_all, name="seam-stop", daemon=True).start()

    def _note(self, name: str) -> None:
        if self.signal is None:
            self.signal = name

    def _abort(self, reason: str) -> None:
        self.aborted = True
        self._raise(main=True, hard=True)
        self._say(f"{reason}: aborting; healing the faults and stopping every node")
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

    @staticmethod
    def _say(message: str) -> None:
        log.warning(message)
        sys.stderr.write(f"\nseam: {message}\n")
        sys.stderr.flush()

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
        previous = {s: signal.signal(s, lambda signum, _frame: self.receive(signum)) for s in HANDLED}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class _HeldExitStack(contextlib.ExitStack):
    """``Stops.cleanup_stack``: unwinds (``close`` or leaving the block) while holding aborts."""

    def __init__(self, stops: Stops) -> None:
        super().__init__()
        self._stops = stops

    def __exit__(self, *exc: Any) -> bool:
        with self._stops.holding():
            return bool(super().__exit__(*exc))
