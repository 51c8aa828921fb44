"""Turn one anomaly of a check into a regression case (``harness.formats.case``).

A linearizability anomaly carries its own evidence: the shrunk sub-history
(or, unshrunk, every op of its key, which fails alone by P-compositionality).
Any other anomaly may rest on node files as much as on ops. Which files, and
which of their rows concern an anomaly, the target declares
(``harness.regress.evidence.CaseFiles``: the pipeline's ledgers, fence logs,
step log and store replicas, tied to anomalies through the orders they
name); this module names no file. Rows are chosen on a ladder that widens
until a re-check of the case alone finds the anomaly's fingerprint again:

``focused``
    the ops of the entities the anomaly names (and the ops it names), the
    rows about those entities in every declared row file, the rows the
    anomaly quotes, each node's newest row of the files that keep one (the
    run's clock), the last nemesis op (the history's end) and the whole
    files the anomaly's checker reads;
``files``
    every row of each file the focused rows came from, every op;
``whole``
    every declared file, every op.

Re-checking costs little for a focused case, but a run can hold hundreds of
anomalies of one fingerprint: the first ``VERIFY_PER_FINGERPRINT`` of each are
re-checked, within ``VERIFY_BUDGET`` seconds in all; the rest are written
focused, with ``verified: null`` (not tried). ``verified: false`` says a case
was tried and even the whole run did not show the fingerprint alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.op import History, Op
from harness.core.verdict import Anomaly
from harness.formats.case import ArtifactRow, CaseHeader
from harness.regress import txn
from harness.regress.evidence import NO_FILES, CaseFiles

#: Seconds one results writer spends re-checking file-backed cases before it stops verifying.
VERIFY_BUDGET = 20.0
VERIFY_PER_FINGERPRINT = 3
#: test.json keys a re-check needs (the rest names this machine: paths, ports, pids).
TEST_KEYS = ("name", "workload", "target", "seed", "bugs", "replication", "scenario")
OPTION_KEYS = ("workload", "target", "bugs", "replication", "keys", "scenario", "seed",
               "nemesis", "concurrency", "time_limit")


@dataclass
class CaseParts:
    header: CaseHeader
    ops: list[dict[str, Any]]
    artifacts: list[ArtifactRow] = field(default_factory=list)


class Capture:
    """Cases for the anomalies of one check; holds the verification budget between them."""

    def __init__(self, history: Sequence[Op], *, run_dir: Path | None, test: dict[str, Any] | None,
                 files: CaseFiles = NO_FILES, budget: float = VERIFY_BUDGET):
        self.history = history if isinstance(history, History) else _as_history(history)
        self.files = files
        self.run_dir = run_dir.resolve() if run_dir is not None and (run_dir / "nodes").is_dir() else None
        self.test = test or {}
        self.deadline = time.monotonic() + budget
        self._files: list[tuple[str, str, list[dict[str, Any]]]] | None = None
        self._by_entity: dict[tuple[str, str], tuple[dict[Any, list[dict[str, Any]]], ...]] | None = None
        self._verified: dict[str, int] = {}
        self._pairs: tuple[dict[int, list[Op]], dict[str, list[Op]]] | None = None

    def case(self, anomaly: Anomaly, number: int) -> CaseParts:
        header = CaseHeader(
            kind=anomaly.kind, checker=anomaly.checker, fingerprint=anomaly.fingerprint,
            verdict="invalid" if anomaly.severity == "error" else "valid",
            severity=anomaly.severity, summary=anomaly.summary,
            test=trim_test(self.test), source=self._source(number),
        )
        model = anomaly.details.get("model")
        if anomaly.kind == "nonlinearizable" and isinstance(model, str):
            return self._linearizable(anomaly, header, model)
        if anomaly.checker == txn.CHECKER:  # the keys' calls, projected: harness.regress.txn
            return txn.case_parts(self.history, anomaly, header, verify=verify, deadline=self.deadline)
        return self._with_files(anomaly, header)

    def _source(self, number: int) -> dict[str, Any]:
        if self.run_dir is not None:
            run = f"{self.run_dir.parent.name}/{self.run_dir.name}"
            return {"run": run, "seed": self.test.get("seed"), "anomaly": number}
        return {"file": Path(self.history.source).name, "anomaly": number}

    # -- linearizability: the shrunk sub-history, or the key's ops ------------

    def _linearizable(self, anomaly: Anomaly, header: CaseHeader, model: str) -> CaseParts:
        d = anomaly.details
        header.model = model
        from checkers.linearizable.models import initial_argument

        header.initial = initial_argument(model, d.get("initial"))
        header.independent = bool(d.get("independent"))
        shrunk = d.get("shrunk_ops") or []
        if shrunk:
            header.evidence, ops = "shrunk", list(shrunk)
        elif header.independent and d.get("key") is not None:
            header.evidence, ops = "key", self._key_ops(d["key"])
        else:
            header.evidence, ops = "whole", [op.to_json() for op in self.history]
        return CaseParts(header, ops)

    def _key_ops(self, key: Any) -> list[dict[str, Any]]:
        def on_key(op: Op) -> bool:
            v = op.value
            return isinstance(v, (list, tuple)) and len(v) == 2 and str(v[0]) == str(key)

        return [op.to_json() for op in self.history if op.is_client and on_key(op)]

    # -- node files: the evidence ladder --------------------------------------

    def _with_files(self, anomaly: Anomaly, header: CaseHeader) -> CaseParts:
        entities = self.files.entities(anomaly)
        quoted = {_quote(d) for d in _dicts(anomaly.details)} - {None}
        rows = self._rows(entities, quoted, anomaly.checker)
        focused = CaseParts(header, self._ops(anomaly, entities), rows)
        header.evidence = "focused"
        tried = self._verified.get(header.fingerprint, 0)
        if time.monotonic() > self.deadline or not header.test or tried >= VERIFY_PER_FINGERPRINT:
            return focused
        self._verified[header.fingerprint] = tried + 1
        ladder = [focused, self._widen(focused), self._whole(header)]
        for step, parts in zip(("focused", "files", "whole"), ladder, strict=True):
            header.evidence = step
            verdict = verify(parts)
            if verdict is not None:
                header.verified, header.verdict = True, verdict
                return parts
            if time.monotonic() > self.deadline:
                break
        header.evidence, header.verified = "focused", False
        return focused

    def _ops(self, anomaly: Anomaly, entities: set[str]) -> list[dict[str, Any]]:
        by_index, by_entity = self._pair_index()
        keep = {id(op) for i in anomaly.ops for op in by_index.get(i, ())}
        keep.update(id(op) for e in entities for op in by_entity.get(e, ()))
        nemesis = self.history.nemesis_ops
        if nemesis:
            keep.add(id(nemesis[-1]))  # the history's end, for the grace rule
        return [op.to_json() for op in self.history if id(op) in keep]

    def _pair_index(self) -> tuple[dict[int, list[Op]], dict[str, list[Op]]]:
        """Each client op's whole call (invoke and completion), by op index and by
        the entity it is about, paired once per check."""
        if self._pairs is None:
            by_index: dict[int, list[Op]] = {}
            by_entity: dict[str, list[Op]] = {}
            for inv, done, _, _ in self.history.pairs():
                pair = [inv] if done is None else [inv, done]
                for op in pair:
                    by_index[op.index] = pair
                entity = self.files.entity_of_op(inv)
                if entity is not None:
                    by_entity.setdefault(entity, []).extend(pair)
            self._pairs = (by_index, by_entity)
        return self._pairs

    def _rows(self, entities: set[str], quoted: set[Any], checker: str) -> list[ArtifactRow]:
        out: list[ArtifactRow] = []
        index = self._entity_index()
        for node, name, rows in self._row_files():
            path = f"nodes/{node}/{name}"
            mine, quotes = index[(node, name)]
            picked = [r for e in sorted(entities) for r in mine.get(e, ())]
            seen = {id(r) for r in picked}
            picked += [r for q in quoted for r in quotes.get(q, ()) if id(r) not in seen]
            if name in self.files.latest_by_key:  # checkers read a record's newest version only
                picked = list({r.get("key"): r for r in picked}.values())
            out += [ArtifactRow(path, row=r) for r in picked]
            if name in self.files.newest_row and rows and self.files.entity_of_row(rows[-1]) not in entities:
                out.append(ArtifactRow(path, row=rows[-1]))  # the run's clock
        return out + self._whole_files(self.files.whole_files(checker))

    def _entity_index(self) -> dict[tuple[str, str], tuple[dict[Any, list[dict[str, Any]]], ...]]:
        """(node, file) -> (entity -> its rows, quote -> its rows), built once per check."""
        if self._by_entity is None:
            self._by_entity = {}
            for node, name, rows in self._row_files():
                mine: dict[Any, list[dict[str, Any]]] = {}
                quotes: dict[Any, list[dict[str, Any]]] = {}
                for r in rows:
                    entity, q = self.files.entity_of_row(r), _quote(r)
                    if entity is not None:
                        mine.setdefault(entity, []).append(r)
                    if q is not None:
                        quotes.setdefault(q, []).append(r)
                self._by_entity[(node, name)] = (mine, quotes)
        return self._by_entity

    def _widen(self, focused: CaseParts) -> CaseParts:
        touched = {a.path for a in focused.artifacts if a.row is not None}
        rows = [ArtifactRow(f"nodes/{n}/{name}", row=r) for n, name, rs in self._row_files()
                if f"nodes/{n}/{name}" in touched for r in rs]
        ops = [op.to_json() for op in self.history]
        return CaseParts(focused.header, ops, rows + self._whole_files())

    def _whole(self, header: CaseHeader) -> CaseParts:
        rows = [ArtifactRow(f"nodes/{n}/{name}", row=r) for n, name, rs in self._row_files() for r in rs]
        return CaseParts(header, [op.to_json() for op in self.history], rows + self._whole_files())

    def _row_files(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(node, file, rows) of every collected row file, read once per check."""
        if self._files is None:
            self._files = [(d.name, name, _jsonl(d / name)) for d in self._node_dirs()
                           for name in self.files.rows if (d / name).is_file()]
        return self._files

    def _whole_files(self, names: Sequence[str] | None = None) -> list[ArtifactRow]:
        out = []
        names = self.files.whole_files() if names is None else names
        for node_dir in self._node_dirs():
            for name in names:
                try:
                    data = json.loads((node_dir / name).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                keep = self.files.keep_keys.get(name)
                if keep is not None and isinstance(data, dict):
                    data = {k: data[k] for k in keep if k in data}
                out.append(ArtifactRow(f"nodes/{node_dir.name}/{name}", whole=data))
        return out

    def _node_dirs(self) -> list[Path]:
        if self.run_dir is None:
            return []
        return sorted(p for p in (self.run_dir / "nodes").iterdir() if p.is_dir())


def verify(parts: CaseParts) -> str | None:
    """The verdict a re-check of ``parts`` alone gives, or None if it misses the fingerprint."""
    import tempfile

    from harness.formats.case import write_case
    from harness.regress.replay import recheck

    with tempfile.TemporaryDirectory(prefix="seam-case-") as tmp:
        path = Path(tmp) / "case.jsonl"
        write_case(path, parts.header, parts.ops, parts.artifacts)
        try:
            got = recheck(path)
        except Exception:  # noqa: BLE001 - a case that cannot be re-checked is not verified
            return None
    return got.verdict if parts.header.fingerprint in got.fingerprints else None


# ---------------------------------------------------------------------------
# helpers


def trim_test(test: dict[str, Any]) -> dict[str, Any]:
    """test.json without this machine's paths and ports: what the workload's checkers read."""
    out = {k: test[k] for k in TEST_KEYS if k in test}
    options = test.get("options")
    if isinstance(options, dict):
        out["options"] = {k: options[k] for k in OPTION_KEYS if k in options}
    nodes = test.get("nodes")
    if isinstance(nodes, (dict, list)):
        out["nodes"] = sorted(str(n) for n in nodes)
    return out


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _dicts(v)


def _quote(row: dict[str, Any]) -> tuple[Any, ...] | None:
    """What identifies a collected row quoted in an anomaly (a fence row of another
    order, say): its key, token and wall time; None for a dict that is no such row."""
    sig = (row.get("key"), row.get("token"), row.get("wall"))
    return sig if all(isinstance(x, (str, int, float)) for x in sig) else None


def _as_history(ops: Sequence[Op]) -> History:
    """The ops as a History; ops that do not pair up (a results writer's test input)
    give a case no ops rather than no results."""
    from harness.core.errors import HistoryError

    try:
        return History(list(ops))
    except HistoryError:
        return History([])


def _jsonl(path: Path) -> list[dict[str, Any]]:
    """A collected file's rows; a torn or corrupt line is left out (the checker reports it)."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows
