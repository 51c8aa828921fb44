"""Group commit in the replica: fewer fsyncs than puts, yet nothing unsynced is acked or shown."""

import os
import threading
import time

from target import store
from target.hlc import Timestamp
from target.store import Replica

_fsync = os.fsync  # the real one: the tests replace os.fsync while they run


class SlowDisk:
    """Stands in for os.fsync: counts calls, takes ``delay``, can be held, records what was synced."""

    def __init__(self, path, delay=0.02):
        self.path, self.delay = path, delay
        self.calls = 0
        self.synced = b""
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, fd):
        self.entered.set()
        self.gate.wait(5)
        data = self.path.read_bytes()  # everything flushed before this fsync is covered by it
        time.sleep(self.delay)
        _fsync(fd)
        self.calls += 1
        self.synced = data


def test_concurrent_puts_share_fsyncs_and_each_returns_only_once_its_row_is_synced(tmp_path, monkeypatch):
    path = tmp_path / "store.jsonl"
    replica = Replica(path)
    disk = SlowDisk(path)
    monkeypatch.setattr(store.os, "fsync", disk)
    problems: list[str] = []

    def put(i: int) -> None:
        applied, _ = replica.put(f"k{i}", i, Timestamp(1, i, "n1"))
        if not applied or f'"k{i}"'.encode() not in disk.synced:
            problems.append(f"k{i} returned before its row was synced")

    threads = [threading.Thread(target=put, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert disk.calls < 20  # grouped: one fsync covered several appends
    assert (replica.rows_written, replica.fsyncs) == (20, disk.calls)
    assert len(path.read_text().splitlines()) == 20
    replica.close()
    reopened = Replica(path)
    assert reopened.keys() == sorted(f"k{i}" for i in range(20))


def test_a_get_waits_for_the_fsync_of_the_version_it_would_show(tmp_path, monkeypatch):
    path = tmp_path / "store.jsonl"
    replica = Replica(path)
    replica.put("k", "old", Timestamp(1, 0, "n1"))
    disk = SlowDisk(path, delay=0)
    disk.gate.clear()
    monkeypatch.setattr(store.os, "fsync", disk)
    writer = threading.Thread(target=replica.put, args=("k", "new", Timestamp(2, 0, "n1")))
    writer.start()
    assert disk.entered.wait(2)  # the new row is written, its fsync is held
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(replica.get("k")))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and seen == []  # not shown while it could still be lost
    disk.gate.set()
    reader.join(2)
    writer.join(2)
    assert seen == [("new", Timestamp(2, 0, "n1"))]


def test_a_stale_put_still_waits_for_the_newer_row_it_reports(tmp_path, monkeypatch):
    """Its ack says "this replica holds ts or newer": that newer row must be durable first."""
    path = tmp_path / "store.jsonl"
    replica = Replica(path)
    disk = SlowDisk(path, delay=0)
    disk.gate.clear()
    monkeypatch.setattr(store.os, "fsync", disk)
    newer = threading.Thread(target=replica.put, args=("k", "new", Timestamp(5, 0, "n1")))
    newer.start()
    assert disk.entered.wait(2)
    result: list = []
    stale = threading.Thread(target=lambda: result.append(replica.put("k", "old", Timestamp(1, 0, "n1"))))
    stale.start()
    stale.join(0.2)
    assert stale.is_alive() and result == []
    disk.gate.set()
    stale.join(2)
    newer.join(2)
    assert result == [(False, Timestamp(5, 0, "n1"))]
