"""How a run answers signals: SIGTERM and SIGHUP stop then abort, a duplicate is one request,
and nothing after the abort raises again (so the heal is never cut short)."""

from __future__ import annotations

import os
import signal
import threading

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


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_once_the_nodes_are_stopped_the_first_signal_cuts_the_check_short(sig: signal.Signals,
                                                                          capsys: pytest.CaptureFixture) -> None:
    """Nothing is left to heal or read: a Ctrl-C that only ended the main phase would leave
    a slow check running, and the sender would reach for SIGKILL."""
    clock = Clock()
    stops = Stops(clock)
    stops.stopped()
    with pytest.raises(RunAborted, match=f"{sig.name} while checking: the check was cut short"):
        stops.receive(sig)
    assert stops.aborted and stops.signal == sig.name
    clock.now += 2 * REPEAT_WINDOW_S
    stops.receive(sig)  # after the abort: said, never raised
    err = capsys.readouterr().err
    assert "already stopping the check" in err and "healing" not in err  # nothing is left to heal


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
        _deliver(stops, signal.SIGTERM)
        assert stops.hard.wait(5) and stops.signal == "SIGTERM"
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


def _deliver(stops: Stops, sig: signal.Signals) -> None:
    """Send ``sig`` to this process; return once its handler has run (it runs between bytecodes)."""
    os.kill(os.getpid(), sig)
    for _ in range(10_000):
        if stops.signal is not None:
            return
    raise AssertionError(f"the {sig.name} handler never ran")


def test_a_signal_that_lands_while_the_main_thread_holds_the_events_lock_does_not_deadlock() -> None:
    """A handler runs in the main thread between two bytecodes, possibly inside
    ``Event.wait`` while that thread holds the event's plain Lock. Setting the event
    right there would wait for itself forever."""
    stops = Stops()
    with stops.installed():
        with stops.main._cond, stops.hard._cond:  # what the main thread holds inside Event.wait
            _deliver(stops, signal.SIGHUP)  # returns: the events are set by the watcher
            assert stops.signal == "SIGHUP" and not stops.hard.is_set()
        assert stops.main.wait(5) and stops.hard.wait(5)


def test_what_the_handler_queued_is_done_before_the_handlers_are_removed(capsys: pytest.CaptureFixture) -> None:
    stops = Stops()
    with stops.installed():
        _deliver(stops, signal.SIGTERM)
    assert stops.hard.is_set() and "SIGTERM: stopping the run" in capsys.readouterr().err
    assert not [t for t in threading.enumerate() if t.name == "seam-signals"]


def test_a_run_still_going_a_while_after_the_stop_dumps_every_threads_stack(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    """A stop that hangs says where: the stacks go to stderr (here after 0.2 s, in a run 60 s)."""
    import time

    import harness.signals

    monkeypatch.setattr(harness.signals, "STOP_WATCHDOG_S", 0.2)
    stops = Stops()
    with stops.installed():
        _deliver(stops, signal.SIGHUP)
        time.sleep(1.0)
    err = capfd.readouterr().err
    assert "SIGHUP: stopping the run" in err
    assert "Timeout (0:00:00.200000)!" in err and "most recent call first" in err and "test_signals.py" in err


def test_a_run_that_stopped_in_time_dumps_nothing(monkeypatch: pytest.MonkeyPatch,
                                                  capfd: pytest.CaptureFixture) -> None:
    import time

    import harness.signals

    monkeypatch.setattr(harness.signals, "STOP_WATCHDOG_S", 0.3)
    stops = Stops()
    with stops.installed():
        _deliver(stops, signal.SIGTERM)
        assert stops.hard.wait(5)
        stops.stopped()  # healed and torn down: checking may take as long as it takes
        time.sleep(0.6)
    assert "most recent call first" not in capfd.readouterr().err
