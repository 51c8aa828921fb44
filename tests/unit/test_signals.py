"""How a run answers signals: SIGTERM and SIGHUP stop then abort, a duplicate is one request,
and nothing after the abort raises again (so the heal is never cut short)."""

from __future__ import annotations

import os
import signal

import pytest

from harness.signals import REPEAT_WINDOW_S, RunAborted, Stops


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_at_once_then_abort(sig: signal.Signals, capsys: pytest.CaptureFixture) -> None:
    clock = Clock()
    stops = Stops(clock)
    stops.receive(sig)
    assert stops.main.is_set() and stops.hard.is_set() and stops.signal == sig.name and not stops.aborted
    clock.now += 2 * REPEAT_WINDOW_S
    with pytest.raises(RunAborted, match=f"aborted by a second {sig.name}"):
        stops.receive(sig)
    assert stops.aborted
    clock.now += 2 * REPEAT_WINDOW_S
    stops.receive(sig)  # after the abort: said, never raised
    stops.receive(signal.SIGINT)
    err = capsys.readouterr().err
    assert f"{sig.name}: stopping the run" in err and "already aborting" in err


def test_a_copy_of_the_same_signal_inside_the_window_is_one_request() -> None:
    """`timeout` signals the child and then its process group: the child gets SIGTERM twice."""
    clock = Clock()
    stops = Stops(clock)
    stops.receive(signal.SIGTERM)
    clock.now += REPEAT_WINDOW_S / 10
    stops.receive(signal.SIGTERM)
    assert not stops.aborted
    clock.now += REPEAT_WINDOW_S
    with pytest.raises(RunAborted):
        stops.receive(signal.SIGTERM)


def test_ctrl_c_after_sigterm_aborts_and_names_both() -> None:
    clock = Clock()
    stops = Stops(clock)
    stops.receive(signal.SIGTERM)
    with pytest.raises(RunAborted, match="aborted by SIGINT after SIGTERM"):
        stops.receive(signal.SIGINT)  # a different signal: no repeat window


def test_installed_handlers_catch_a_real_sigterm_and_are_removed_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stops = Stops()
    with stops.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs on the main thread between bytecodes
            if stops.hard.is_set():
                break
        assert stops.hard.is_set() and stops.signal == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_abort_while_the_scopes_unwind_waits_until_every_cleanup_ran() -> None:
    """A KeyboardInterrupt inside a teardown loop would leave the remaining nodes running."""
    clock = Clock()
    stops = Stops(clock)
    stopped: list[str] = []

    def teardown(node: str) -> None:
        if node == "n2":  # the second SIGTERM lands in the middle of the teardown
            clock.now += 2 * REPEAT_WINDOW_S
            stops.receive(signal.SIGTERM)
        stopped.append(node)

    stops.receive(signal.SIGTERM)
    with pytest.raises(RunAborted, match="a second SIGTERM"):
        with stops.cleanup_stack() as scopes:
            for node in ("n3", "n2", "n1"):  # unwound last first: n1, n2, n3
                scopes.callback(teardown, node)
            scopes.callback(stopped.append, "healed")
    assert stopped == ["healed", "n1", "n2", "n3"] and stops.aborted


def test_an_abort_outside_the_unwinding_raises_at_once_and_the_unwinding_does_not_raise_twice() -> None:
    clock = Clock()
    stops = Stops(clock)
    stopped: list[str] = []
    stops.receive(signal.SIGTERM)
    with pytest.raises(RunAborted):
        with stops.cleanup_stack() as scopes:
            scopes.callback(stopped.append, "n1")
            clock.now += 2 * REPEAT_WINDOW_S
            stops.receive(signal.SIGTERM)  # raised here, in the main phase
            stopped.append("not reached")
    assert stopped == ["n1"]


def test_a_signal_that_lands_while_the_main_thread_holds_the_events_lock_does_not_deadlock() -> None:
    """A handler runs in the main thread between two bytecodes, possibly inside
    ``Event.wait`` while that thread holds the event's plain Lock. Setting the event
    right there would wait for itself forever (a SIGHUP 0.3 s into a run once hung it)."""
    from harness.signals import Stops

    stops = Stops()
    with stops.main._cond, stops.hard._cond:  # what the main thread holds inside Event.wait
        stops.terminate("SIGHUP")  # returns: the events are set from another thread
        assert stops.signal == "SIGHUP"
    assert stops.main.wait(5) and stops.hard.wait(5)
