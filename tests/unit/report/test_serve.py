"""`seam serve` over real HTTP on 127.0.0.1: the index of runs, and nothing outside results/."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.commands.serve import list_runs, make_server
from tests.unit.report.synthetic import write_run

SECRET = "top secret, outside results/"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    bad = write_run(root, test="orders", stamp="20261124T030000")
    write_run(
        root,
        test="register",
        stamp="20261124T040000",
        results={"valid": True, "anomalies": [], "checkers": {}},
    )
    write_run(
        root,
        test="orders",
        stamp="20261124T050000",
        results={"valid": "unknown", "anomalies": [], "error": "effects: boom", "checkers": {}},
    )
    (bad / "report.html").write_text("<h1>the report</h1>")
    (root / "latest").symlink_to(Path("orders") / "20261124T030000")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (root / "escape").symlink_to(outside)  # a directory link out
    (bad / "secret.txt").symlink_to(outside / "secret.txt")  # a file link out
    return root


@pytest.fixture
def server(results: Path) -> Iterator[tuple[str, int]]:
    srv = make_server(results, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[0], srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert not thread.is_alive()


def get(server: tuple[str, int], target: str) -> tuple[int, str]:
    """Send ``target`` byte for byte (no client-side normalisation of '..')."""
    conn = http.client.HTTPConnection(*server, timeout=5)
    try:
        conn.putrequest("GET", target, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_index_lists_runs_with_verdict_and_anomaly_counts(server: tuple[str, int]) -> None:
    status, body = get(server, "/")
    assert status == 200
    rows = body.split("<tr>")[2:]
    assert len(rows) == 3
    newest, register, invalid = rows
    assert "orders" in newest and "unknown" in newest and "effects: boom" in newest
    assert "register" in register and ">valid<" in register
    assert ">invalid<" in invalid and "<td>2</td>" in invalid
    assert "1 duplicate-effect, 1 stale-read" in invalid
    assert 'href="/orders/20261124T030000/report.html"' in invalid
    assert 'href="/orders/20261124T050000/"' in newest  # not rendered yet: the directory


def test_files_inside_results_are_served_also_through_latest(server: tuple[str, int]) -> None:
    assert get(server, "/orders/20261124T030000/report.html") == (200, "<h1>the report</h1>")
    assert get(server, "/latest/report.html") == (200, "<h1>the report</h1>")
    status, body = get(server, "/orders/20261124T030000/results.json")
    assert status == 200 and '"duplicate-effect"' in body


@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/orders/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/%2e%2e/outside/secret.txt",
        "/orders/%2e%2e%2f%2e%2e%2foutside/secret.txt",
        "/orders/..%5c..%5coutside/secret.txt",
        "/escape/secret.txt",
        "/orders/20261124T030000/secret.txt",
        "/orders/./20261124T030000/report.html",
    ],
)
def test_paths_leaving_results_are_refused(server: tuple[str, int], target: str) -> None:
    status, body = get(server, target)
    assert status == 403, f"{target} -> {status}"
    assert SECRET not in body


@pytest.mark.parametrize(
    "target",
    ["//etc/passwd", "/etc/passwd", "http://127.0.0.1/etc/passwd", "ftp://x/../../etc/passwd"],
)
def test_absolute_paths_never_reach_the_file_system_root(
    server: tuple[str, int], target: str
) -> None:
    status, body = get(server, target)
    assert status in (403, 404), f"{target} -> {status}"
    assert "root:" not in body


def test_list_runs_skips_links_and_reads_failed_runs(results: Path) -> None:
    failed = write_run(
        results,
        test="orders",
        stamp="20261124T060000",
        results={"valid": None, "error": "setup failed", "anomalies": [], "run": {"failed": True}},
    )
    rows = {r.stamp: r for r in list_runs(results)}
    assert set(rows) == {"20261124T030000", "20261124T040000", "20261124T050000", failed.name}
    assert rows[failed.name].verdict == "run failed"
    assert rows["20261124T030000"].kinds == {"duplicate-effect": 1, "stale-read": 1}


def test_make_server_names_a_missing_directory(tmp_path: Path) -> None:
    from harness.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no such results directory"):
        make_server(tmp_path / "nope", "127.0.0.1", 0)
