"""Start real target/ node processes on 127.0.0.x for integration tests.

Each node gets its own loopback address (127.0.0.111, .112, ... by default;
not the 127.0.0.11+ of `seam test --cluster local`, whose host iptables rules
would cut these nodes too when the suite runs on two workers),
a free port, a config and a data directory under the test's tmp_path, and
runs as ``python -m target.node --config <dir>/node.json`` from the repo
root. Everything is stopped by pid at the end (SIGCONT, SIGTERM, then SIGKILL).

Usage in a test::

    from tests.integration.target_cluster import make_cluster  # noqa: F401 (fixture)

    def test_x(make_cluster):
        c = make_cluster(3, bugs=["weak-quorum"], lease_seconds=1.0)
        status, body = c["n1"].call("PUT", "/kv/a", {"value": 1})
        c["n2"].kill(); c["n2"].restart()
        c.stop("n3"); c.cont("n3")
        leader = c.wait_leader()

or as a context manager: ``with cluster(tmp_path, 3) as c: ...``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from target.pool import CallError, http_call

REPO = Path(__file__).resolve().parents[2]


def free_port(host: str) -> int:
    """A port that is free on host right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Node:
    name: str
    host: str
    port: int
    data_dir: Path
    config_path: Path
    proc: subprocess.Popen[bytes] | None = None
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start (or restart) the process with the same config and data directory."""
        assert not self.alive(), f"{self.name} is already running (pid {self.pid})"
        out = open(self.data_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "target.node", "--config", str(self.config_path)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        out.close()
        self.stopped = False

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
        return http_call(self.url, method, path, body, timeout=timeout)

    def healthy(self) -> bool:
        try:
            return self.call("GET", "/health", timeout=0.5)[0] == 200
        except CallError:
            return False

    def wait_healthy(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited with {self.proc.returncode if self.proc else '?'}:"
                                     f"\n{self.tail()}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not healthy at {self.url} after {timeout}s:\n{self.tail()}")

    def signal(self, sig: int) -> None:
        assert self.alive(), f"{self.name} is not running"
        os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL and reap: nothing unacknowledged survives, the data directory stays."""
        if self.alive():
            self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self.stopped = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.stopped = False

    def restart(self, timeout: float = 10.0) -> None:
        self.kill()
        self.start()
        self.wait_healthy(timeout)

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGCONT + SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        self.request_stop()
        return self.wait_stopped(timeout)

    def request_stop(self) -> None:
        """SIGCONT + SIGTERM, once: a second SIGTERM during the interpreter's exit would kill
        it with the default action and hide its clean exit code."""
        if self.alive():
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float = 10.0) -> int | None:
        """Wait for the exit after request_stop; SIGKILL if it takes longer than timeout."""
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        return self.proc.returncode

    def log(self) -> str:
        p = self.data_dir / "node.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def tail(self, lines: int = 30) -> str:
        out = self.data_dir / "stdout.log"
        text = (out.read_text(errors="replace") if out.exists() else "") + self.log()
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    nodes: dict[str, Node] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    @property
    def names(self) -> list[str]:
        return sorted(self.nodes)

    def stop(self, name: str) -> None:
        self.nodes[name].pause()

    def cont(self, name: str) -> None:
        self.nodes[name].resume()

    def leaders(self) -> dict[str, tuple[str | None, int]]:
        """GET /leader on every running, unpaused node: {asked node: (leader, term)}."""
        out = {}
        for n in self:
            if n.alive() and not n.stopped:
                try:
                    status, body = n.call("GET", "/leader", timeout=1.0)
                except CallError:
                    continue
                if status == 200:
                    out[n.name] = (body["node"], body["term"])
        return out

    def wait_leader(self, timeout: float = 15.0, *, exclude: tuple[str, ...] = (),
                    min_term: int = 0) -> tuple[str, int]:
        """Wait until every running node names the same leader (not in exclude, term >= min_term)."""
        deadline = time.monotonic() + timeout
        seen: dict[str, tuple[str | None, int]] = {}
        while time.monotonic() < deadline:
            seen = {k: v for k, v in self.leaders().items() if k not in exclude}
            views = set(seen.values())
            if len(views) == 1:
                leader, term = views.pop()
                if leader is not None and leader not in exclude and term >= min_term:
                    return leader, term
            time.sleep(0.05)
        raise AssertionError(f"no agreed leader within {timeout}s; views: {seen}")

    def shutdown(self) -> dict[str, int | None]:
        """SIGCONT + SIGTERM to every running node first, then wait for each: the nodes
        stop side by side (each takes up to half a second to close its server)."""
        for n in self:
            n.request_stop()
        return {n.name: n.wait_stopped() for n in self}


def write_configs(tmp_path: Path, count: int, *, base_octet: int = 111, **overrides: Any) -> Cluster:
    """Configs for n1..n<count> on 127.0.0.<base_octet + i - 1>, free ports, data in tmp_path/<name>."""
    nodes: dict[str, Node] = {}
    for i in range(1, count + 1):
        name, host = f"n{i}", f"127.0.0.{base_octet + i - 1}"
        data = tmp_path / name
        data.mkdir(parents=True, exist_ok=True)
        nodes[name] = Node(name, host, free_port(host), data, data / "node.json")
    peers = {n.name: n.url for n in nodes.values()}
    for n in nodes.values():
        cfg: dict[str, Any] = {
            "node": n.name, "host": n.host, "port": n.port, "data_dir": str(n.data_dir),
            "peers": peers, "lease_seconds": 1.0, "request_timeout": 0.5, "admin_secret": "test-secret",
            "retry": {"base": 0.01, "cap": 0.1, "naive_delay": 0.05, "breaker_reset": 0.5},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                cfg[key] = {**cfg[key], **value}
            else:
                cfg[key] = list(value) if isinstance(value, tuple) else value
        n.config_path.write_text(json.dumps(cfg, indent=2))
    return Cluster(nodes)


@contextmanager
def cluster(tmp_path: Path, count: int = 3, **overrides: Any) -> Iterator[Cluster]:
    """Start count nodes, wait until all answer /health, stop them all by pid on exit."""
    c = write_configs(tmp_path, count, **overrides)
    try:
        for n in c:
            n.start()
        for n in c:
            n.wait_healthy()
        yield c
    finally:
        c.shutdown()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Any]:
    """Factory fixture: make_cluster(count=3, **config overrides) -> Cluster, stopped at teardown."""
    started: list[Cluster] = []

    def make(count: int = 3, **overrides: Any) -> Cluster:
        sub = tmp_path / f"cluster{len(started)}"
        c = write_configs(sub, count, base_octet=111 + 10 * len(started), **overrides)
        started.append(c)
        for n in c:
            n.start()
        for n in c:
            n.wait_healthy()
        return c

    try:
        yield make
    finally:
        for c in started:
            c.shutdown()
