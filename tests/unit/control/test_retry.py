"""RetryingRemote retries only unreachability, with growing waits."""

from __future__ import annotations

import pytest

from harness.control.local import LocalRemote, unreachable
from harness.control.retry import RetryingRemote
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Remote, Result


class Flaky:
    """A Remote whose run fails unreachable `failures` times, then runs for real."""

    kind = "flaky"

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0
        self.real = LocalRemote()

    def run(self, node, argv, *, timeout=60.0, check=True, stdin=None) -> Result:
        self.calls += 1
        if self.calls <= self.failures:
            raise unreachable(node, argv, "connection refused", "start sshd")
        return self.real.run(node, argv, timeout=timeout, check=check, stdin=stdin)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_retries_unreachable_then_succeeds_with_backoff():
    waits: list[float] = []
    inner = Flaky(failures=3)
    r = RetryingRemote(inner, attempts=4, backoff=0.1, max_backoff=0.3, sleep=waits.append)
    assert r.run("n1", ["echo", "ok"]).stdout == "ok\n"
    assert inner.calls == 4
    assert waits == [0.1, 0.2, 0.3]
    assert isinstance(r, Remote) and r.kind == "flaky"


def test_gives_up_after_attempts_with_the_last_error():
    inner = Flaky(failures=10)
    r = RetryingRemote(inner, attempts=3, backoff=0.0, sleep=lambda s: None)
    with pytest.raises(UnreachableError, match="connection refused"):
        r.run("n2", ["true"])
    assert inner.calls == 3


def test_a_command_that_ran_and_failed_is_not_retried():
    inner = Flaky(failures=0)
    r = RetryingRemote(inner, attempts=5, backoff=0.0, sleep=lambda s: None)
    with pytest.raises(RemoteError) as e:
        r.run("n1", ["false"])
    assert e.value.status == 1 and not isinstance(e.value, UnreachableError)
    assert inner.calls == 1


def test_other_methods_pass_through(tmp_path):
    r = RetryingRemote(LocalRemote(), attempts=2, backoff=0.0)
    (tmp_path / "f").write_text("x")
    r.upload("n1", tmp_path / "f", str(tmp_path / "g"))
    r.download("n1", str(tmp_path / "g"), tmp_path / "h")
    assert (tmp_path / "h").read_text() == "x"
    pid = r.spawn("n1", ["sleep", "5"], str(tmp_path / "log"))
    assert r.alive("n1", pid)
    r.signal("n1", pid, 9)
    r.close()


def test_attempts_must_be_positive():
    with pytest.raises(ValueError):
        RetryingRemote(LocalRemote(), attempts=0)
