"""Read what a run collected from its nodes, for the pipeline checkers.

A run directory holds ``nodes/<node>/`` with the files the harness copied
from each node (see target/README.md for how target/ writes them). The
shapes the checkers rely on, one JSON object a line unless said otherwise:

``<service>.ledger.jsonl`` (service: payment, inventory, shipping)
    ``{seq, key, op, token, order_id, node, hlc, wall}`` plus ``amount``
    (payment), ``sku, qty`` (inventory), ``shipment`` (shipping) and
    ``void: true`` for a compensation that found nothing to undo.
``<service>.fence.jsonl``
    ``{verdict: "accept"|"reject", key, token, highest, ledger, wall}``,
    ``late: true`` when a stale token was noticed only after the write.
``saga-steps.jsonl``
    ``{order_id, seq, step, phase, ts: [wall_ms, logical, node], wall, node, term}``.
``store.jsonl``
    the node's store replica, ``{key, value, ts}`` per version it accepted; the
    newest ``saga:*`` record fills step-log gaps (see ``Artifacts.saga_records``),
    the newest ``offsets:saga:<partition>`` is the consumer's committed offset.
``events.jsonl``
    the node's event log (partition): ``{order_id, type, node, offset, ...}``.
``metrics.jsonl``
    one scrape of ``GET /metrics`` a line: ``{"time": <seconds since the run
    started, the same origin as the history's ns times>, "counters": {...},
    "gauges": {...}, "histograms": {name: {count, sum, p50, p99, max}}}``.
    The snapshot may instead sit under a ``"metrics"`` key; a line with an
    ``"error"`` and no snapshot (a failed scrape) is skipped.
``metrics.json``
    the final ``GET /metrics`` snapshot that collection writes (no time).
``node.json``
    the node's config (for the retry budget it ran with).

Every row keeps where it came from (``nodes/n1/payment.ledger.jsonl:3``), so an
anomaly can point at the exact line. A last line without its newline (a crash
mid-append, never acknowledged) is cut off, as target/ does; a corrupt line
elsewhere raises ``ArtifactError`` naming the file and line (the checker that
read it is then ``unknown``).

Size: a long run has millions of ledger and step rows. Files are streamed and
decoded many lines per ``json.loads`` call; ledger and step rows are kept as
compact tuples (``LedgerRow``, ``Step``); and ``Artifacts.open`` hands the
checkers of one ``compose`` the same parsed run, so each big file is parsed
once (the last run stays cached until another one is opened).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from harness.core.errors import CheckerError

SERVICES = ("payment", "inventory", "shipping")
SRC = "_src"


class ArtifactError(CheckerError):
    """A collected file is unreadable; the message names the file, the line and the fix."""


# ---------------------------------------------------------------------------
# files

#: lines decoded per json.loads call: one C call for many rows is ~3x faster than one per row
CHUNK = 20_000


def iter_jsonl(path: Path, *, label: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each line of a JSON-lines file; nothing when it is absent.

    Streams the file (memory stays bounded by ``CHUNK`` lines). A last line
    without its newline is cut off, as target/ledger.py does on start: a write
    always ends with the newline, so such a line was torn by a crash and never
    acknowledged. A corrupt line elsewhere raises ``ArtifactError`` naming it.
    """
    if not path.exists():
        return
    label = label or str(path)
    buf: list[str] = []
    nums: list[int] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                break  # torn last line
            text = line.strip()
            if not text:
                continue
            buf.append(text)
            nums.append(lineno)
            if len(buf) >= CHUNK:
                yield from _decode(buf, nums, label)
                buf, nums = [], []
    yield from _decode(buf, nums, label)


def _decode(buf: list[str], nums: list[int], label: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if not buf:
        return
    try:
        rows = json.loads("[" + ",".join(buf) + "]")
    except json.JSONDecodeError:
        rows = None
    if rows is None or len(rows) != len(buf) or not all(isinstance(r, dict) for r in rows):
        rows = [_decode_one(text, n, label) for text, n in zip(buf, nums, strict=True)]
    yield from zip(nums, rows, strict=True)


def _decode_one(text: str, lineno: int, label: str) -> dict[str, Any]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArtifactError(
            f"{label}:{lineno}: not valid JSON ({e.msg}); the file is corrupt: "
            "re-collect it from the node or move it away to check without it"
        ) from None
    if not isinstance(row, dict):
        raise ArtifactError(f"{label}:{lineno}: expected a JSON object, got {type(row).__name__}")
    return row


def read_jsonl(path: Path, *, label: str | None = None) -> list[dict[str, Any]]:
    """Every row of a (small) JSON-lines file, each tagged with ``_src``."""
    label = label or str(path)
    out = []
    for lineno, row in iter_jsonl(path, label=label):
        row[SRC] = f"{label}:{lineno}"
        out.append(row)
    return out


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the node wrote it plus where it came from (``source``), for anomaly details."""
    out = {k: v for k, v in row.items() if k != SRC}
    if SRC in row:
        out["source"] = row[SRC]
    return out


# ---------------------------------------------------------------------------
# compact rows: a long run has millions of ledger and step rows; a tuple is a
# third of a dict's size, and the strings that repeat are interned


_intern = sys.intern
_new = tuple.__new__


class LedgerRow(NamedTuple):
    """One ledger row (target/ledger.py); ``to_json`` gives it back for anomaly details."""

    service: str
    node: str
    file: str
    line: int
    seq: Any
    key: str
    op: str
    token: Any
    order_id: Any
    wall: Any
    amount: Any
    qty: Any
    sku: Any
    shipment: Any
    void: bool
    late: bool

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "key": self.key,
            "op": self.op,
            "token": self.token,
            "order_id": self.order_id,
            "node": self.node,
            "wall": self.wall,
        }
        for name in ("amount", "qty", "sku", "shipment"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.void:
            out["void"] = True
        out["source"] = self.source
        return out


def _ledger_row(service: str, node: str, file: str, line: int, r: dict[str, Any]) -> LedgerRow:
    get = r.get
    oid = get("order_id")
    return _new(
        LedgerRow,
        (
            service,
            node,
            file,
            line,
            get("seq"),
            str(get("key")),
            _intern(str(get("op"))),
            get("token"),
            _intern(oid) if type(oid) is str else oid,
            get("wall"),
            get("amount"),
            get("qty"),
            get("sku"),
            get("shipment"),
            bool(get("void")),
            bool(get("late")),
        ),
    )


class Step(NamedTuple):
    """One saga step-log row (target/saga.py)."""

    order_id: str
    seq: int
    step: str
    phase: str
    ts: tuple[int, int, str] | None
    wall: float | None
    node: Any
    term: Any
    file: str
    line: int

    @property
    def label(self) -> str:
        return f"{self.step}/{self.phase}"

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "seq": self.seq,
            "step": self.step,
            "phase": self.phase,
            "ts": None if self.ts is None else list(self.ts),
            "wall": self.wall,
            "node": self.node,
            "term": self.term,
            "source": f"{self.file}:{self.line}",
        }


#: A node's store replica: one ``{key, value, ts}`` line per version it accepted.
STORE = "store.jsonl"
#: The store keys whose newest version the checkers read: saga records, committed offsets.
NEWEST = ("saga:", "offsets:saga:")
#: A node's event log (its partition): ``{order_id, type, node, offset, ...}`` a line.
EVENTS = "events.jsonl"


def _stamp(ts: Any) -> tuple[int, int, str] | None:
    """An HLC stamp ``[wall_ms, logical, node]`` as a comparable tuple, None if malformed."""
    if type(ts) is list and len(ts) == 3 and type(ts[0]) is int and type(ts[1]) is int:
        return (ts[0], ts[1], str(ts[2]))
    return None


_STEP_FIELDS = itemgetter("order_id", "seq", "step", "phase", "ts", "wall", "node", "term")


def _step(file: str, line: int, r: dict[str, Any]) -> Step | None:
    """A Step, or None for a row without an order id or seq. The common shape (every
    field present, the types target/saga.py writes) takes the fast path: this runs
    once per step row, millions of times on a long run."""
    try:
        oid, seq, step, phase, ts, wall, node, term = _STEP_FIELDS(r)
    except KeyError:
        oid, seq, step, phase, ts, wall, node, term = (
            r.get(k) for k in ("order_id", "seq", "step", "phase", "ts", "wall", "node", "term")
        )
    if type(oid) is not str or type(seq) is not int:
        return None
    if type(ts) is list and len(ts) == 3 and type(ts[0]) is int and type(ts[1]) is int:
        stamp: tuple[int, int, str] | None = (ts[0], ts[1], _intern(str(ts[2])))
    else:
        stamp = None
    if type(wall) is not float:
        wall = (
            float(wall) if isinstance(wall, (int, float)) and not isinstance(wall, bool) else None
        )
    return _new(
        Step,
        (
            _intern(oid),
            seq,
            _intern(str(step)),
            _intern(str(phase)),
            stamp,
            wall,
            _intern(node) if type(node) is str else node,
            term,
            file,
            line,
        ),
    )


# ---------------------------------------------------------------------------
# a run directory


class Artifacts:
    """The ``nodes/<node>/`` files of one run directory (or of nothing, when ``root`` is None).

    ``Artifacts.open(path)`` returns the instance the previous checker used if
    the files have not changed since, so the checkers of one ``compose`` parse
    the big files (ledgers, step logs) once between them.
    """

    _last: tuple[Any, Artifacts] | None = None

    def __init__(self, root: Path | str | None):
        self.root = None if root is None else Path(root)
        self._cache: dict[Any, Any] = {}

    @classmethod
    def open(cls, root: Path | str | None) -> Artifacts:
        arts = cls(root)
        if not arts.present:
            return arts
        sig = (str(Path(root or "").resolve()), arts._signature())
        if cls._last is not None and cls._last[0] == sig:
            return cls._last[1]
        cls._last = (sig, arts)
        return arts

    def _signature(self) -> tuple[Any, ...]:
        out = []
        for node in self.nodes():
            for p in sorted(self.path(node, "").iterdir()):
                st = p.stat()
                out.append((p.name, node, st.st_size, st.st_mtime_ns))
        return tuple(out)

    @property
    def present(self) -> bool:
        return self.root is not None and (self.root / "nodes").is_dir()

    def nodes(self) -> list[str]:
        if not self.present:
            return []
        assert self.root is not None
        return sorted(p.name for p in (self.root / "nodes").iterdir() if p.is_dir())

    def path(self, node: str, name: str) -> Path:
        assert self.root is not None
        return self.root / "nodes" / node / name

    def label(self, node: str, name: str) -> str:
        return f"nodes/{node}/{name}"

    def iter(self, node: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line, row) of one node's file, streamed (for files read once, like fence logs)."""
        return iter_jsonl(self.path(node, name), label=self.label(node, name))

    def rows(self, node: str, name: str) -> list[dict[str, Any]]:
        """One node's (small) file as dicts tagged with ``_src``, read once and cached."""
        key = ("rows", node, name)
        if key not in self._cache:
            self._cache[key] = read_jsonl(self.path(node, name), label=self.label(node, name))
        rows: list[dict[str, Any]] = self._cache[key]
        return rows

    def has_any(self, name: str) -> bool:
        return any(self.path(n, name).exists() for n in self.nodes())

    def ledger(self, service: str | None = None, node: str | None = None) -> list[LedgerRow]:
        """Ledger rows, node by node and service by service, each in its file's order."""
        if "ledger" not in self._cache:
            files: dict[tuple[str, str], list[LedgerRow]] = {}
            for n in self.nodes():
                for svc in SERVICES:
                    name = f"{svc}.ledger.jsonl"
                    file = self.label(n, name)
                    files[(n, svc)] = [
                        _ledger_row(svc, n, file, line, r) for line, r in self.iter(n, name)
                    ]
            self._cache["ledger"] = files
        by_file: dict[tuple[str, str], list[LedgerRow]] = self._cache["ledger"]
        return [
            r
            for (n, svc), rows in by_file.items()
            if (service is None or svc == service) and (node is None or n == node)
            for r in rows
        ]

    def ledger_row(self, service: str, node: str, key: str) -> LedgerRow | None:
        """The first row of ``key`` in one ledger (an index built on first use)."""
        index_key = ("ledger-index", service, node)
        if index_key not in self._cache:
            index: dict[str, LedgerRow] = {}
            for r in self.ledger(service, node):
                index.setdefault(r.key, r)
            self._cache[index_key] = index
        found: LedgerRow | None = self._cache[index_key].get(key)
        return found

    def steps(self) -> list[Step]:
        """Every step-log row of every node (rows without an order id or seq are skipped),
        then the log of each saga's newest record in the store (see ``saga_records``)."""
        if "steps" not in self._cache:
            out: list[Step] = []
            for n in self.nodes():
                file = self.label(n, "saga-steps.jsonl")
                for line, r in self.iter(n, "saga-steps.jsonl"):
                    step = _step(file, line, r)
                    if step is not None:
                        out.append(step)
            for (node, line), rec in self.saga_records().items():
                file = self.label(node, STORE)
                for entry in rec.get("log") or ():
                    if isinstance(entry, dict):
                        step = _step(file, line, {"order_id": rec.get("order_id"), **entry})
                        if step is not None:
                            out.append(step)
            self._cache["steps"] = out
        steps: list[Step] = self._cache["steps"]
        return steps

    def saga_records(self) -> dict[tuple[str, int], dict[str, Any]]:
        """The newest version of every ``saga:*`` key across the nodes' store replicas,
        by where it was read ((node, line) -> record).

        A node appends a step-log row only when its compare-and-set was acknowledged.
        A cas whose answer was lost (its coordinator timed out) may still have
        landed, and the saga then moves on without that row: its record in the store
        is the only witness. The record carries its whole step log, so its newest
        version (by HLC, as a quorum read with write-back would answer) fills the
        gaps; ``chains`` keeps a step-log row over a record's copy of the same seq.
        """
        return {(n, line): v for n, line, v in self._newest()["saga:"].values() if isinstance(v, dict)}

    def committed_offsets(self) -> dict[str, int]:
        """Partition -> the saga consumer's committed offset (the next event to consume),
        from the newest ``offsets:saga:<partition>`` record in the store replicas."""
        out: dict[str, int] = {}
        for key, (_, _, value) in self._newest()["offsets:saga:"].items():
            offset = value.get("offset") if isinstance(value, dict) else value
            if type(offset) is int:
                out[key.removeprefix("offsets:saga:")] = offset
        return out

    def unconsumed_events(self) -> dict[str, set[str]]:
        """Order id -> the types of its events at or past their partition's committed
        offset: published, never consumed (a backlog when the run ended)."""
        committed = self.committed_offsets()
        out: dict[str, set[str]] = {}
        for n in self.nodes():
            for _, row in self.iter(n, EVENTS):
                oid, offset, part = row.get("order_id"), row.get("offset"), row.get("node", n)
                if isinstance(oid, str) and type(offset) is int and offset >= committed.get(str(part), 0):
                    out.setdefault(oid, set()).add(str(row.get("type")))
        return out

    def _newest(self) -> dict[str, dict[str, tuple[str, int, Any]]]:
        """Per key prefix we read (saga records, committed offsets), key -> (node, line,
        value) of its newest version (by HLC) across the nodes' store replicas."""
        if "newest" not in self._cache:
            stamps: dict[str, tuple[int, int, str]] = {}
            out: dict[str, dict[str, tuple[str, int, Any]]] = {p: {} for p in NEWEST}
            for n in self.nodes():
                for line, row in self.iter(n, STORE):
                    key = row.get("key")
                    prefix = next((p for p in NEWEST if isinstance(key, str) and key.startswith(p)), None)
                    stamp = _stamp(row.get("ts"))
                    if prefix is None or stamp is None:
                        continue
                    assert isinstance(key, str)
                    if key not in stamps or stamp > stamps[key]:
                        stamps[key] = stamp
                        out[prefix][key] = (n, line, row.get("value"))
            self._cache["newest"] = out
        newest: dict[str, dict[str, tuple[str, int, Any]]] = self._cache["newest"]
        return newest

    def chains(self) -> dict[str, list[Step]]:
        """Per order, its step rows in ``seq`` order, one row per seq (the first one read)."""
        if "chains" not in self._cache:
            by_order: dict[str, list[Step]] = {}
            for s in self.steps():
                by_order.setdefault(s.order_id, []).append(s)
            for oid, rows in by_order.items():
                rows.sort(key=lambda s: s.seq)
                if any(a.seq == b.seq for a, b in zip(rows, rows[1:], strict=False)):
                    by_order[oid] = [
                        s for i, s in enumerate(rows) if i == 0 or rows[i - 1].seq != s.seq
                    ]
            self._cache["chains"] = by_order
        chains: dict[str, list[Step]] = self._cache["chains"]
        return chains

    def metrics(self, node: str) -> list[dict[str, Any]]:
        """The node's scrapes as ``{"time", "counters", "gauges", "histograms"}``, by time."""
        out: list[dict[str, Any]] = []
        for _, row in self.iter(node, "metrics.jsonl"):
            nested = row.get("metrics")
            snap: dict[str, Any] = nested if isinstance(nested, dict) else row
            t = row.get("time")
            if not isinstance(t, (int, float)) or not any(
                k in snap for k in ("counters", "gauges", "histograms")
            ):
                continue  # a failed scrape, or a line without a time
            out.append(
                {
                    "time": float(t),
                    "counters": snap.get("counters") or {},
                    "gauges": snap.get("gauges") or {},
                    "histograms": snap.get("histograms") or {},
                }
            )
        out.sort(key=lambda s: s["time"])
        return out

    def final_metrics(self, node: str) -> dict[str, Any] | None:
        """The last known snapshot: metrics.json from collection, else the last scrape."""
        p = self.path(node, "metrics.json")
        if p.exists():
            try:
                snap = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ArtifactError(
                    f"nodes/{node}/metrics.json: unreadable ({e}); re-collect it"
                ) from None
            if isinstance(snap, dict):
                return snap
        scrapes = self.metrics(node)
        return scrapes[-1] if scrapes else None

    def config(self, node: str) -> dict[str, Any]:
        p = self.path(node, "node.json")
        try:
            data = json.loads(p.read_text()) if p.exists() else {}
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}


def order_of_key(key: str) -> str | None:
    """``refund:order-42`` (or the bug's ``refund:order-42:call-ab12``) -> ``order-42``."""
    parts = str(key).split(":")
    return parts[1] if len(parts) >= 2 else None


def op_of_key(key: str) -> str:
    return str(key).split(":", 1)[0]
