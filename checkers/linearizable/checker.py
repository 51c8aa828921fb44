"""The linearizability Checker: shape pass, per-key search, explanations.

``LinearizableChecker`` is the piece that ``seam check`` and ``seam test``
compose. It validates every call against the model first (a value of the
wrong shape is bad input, ``HistoryError`` naming the file and line, never a
verdict), searches each key (``partition.check_calls``), and for each key
that is not linearizable builds an ``Explanation`` and one ``nonlinearizable``
anomaly whose details are that explanation's data plus its narrative.
Explaining is lazy: the shrinker and the narrative load only when a key fails.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from checkers.linearizable.models import model_ref
from harness.core.errors import HistoryError
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "linearizable"
#: How many unknown keys ``stats["unknown"]`` lists (``keys_unknown`` counts them all).
UNKNOWN_LISTED = 20


class LinearizableChecker:
    """Checks a history against one model (``Model`` or a model name).

    ``independent`` splits ``[key, value]`` values by key (keyed models such
    as ``kv`` are always split). ``timeout`` (seconds) and ``max_configs``
    bound each key's search; a key that hits either is ``unknown``.
    The first ``explain_limit`` failing keys get a full explanation with a
    shrunk sub-history (each shrunk within ``shrink_budget`` seconds, while
    explaining has taken less than ``explain_budget`` seconds in all); later
    failing keys still get an anomaly, without shrinking, so a history where
    every key fails is reported quickly.
    """

    name = NAME

    def __init__(
        self,
        model: Any,
        *,
        independent: bool = False,
        timeout: float | None = None,
        jobs: int | None = None,
        max_configs: int | None = None,
        explain_limit: int = 10,
        shrink_budget: float = 5.0,
        explain_budget: float = 30.0,
        fail_fast: bool = False,
    ):
        if isinstance(model, str):
            from checkers.linearizable.models import get_model

            model = get_model(model)
        self.model = model
        self.independent = independent
        self.timeout = timeout
        self.jobs = jobs
        self.max_configs = max_configs
        self.explain_limit = explain_limit
        self.shrink_budget = shrink_budget
        self.explain_budget = explain_budget
        self.fail_fast = fail_fast  # stop at the first invalid key (default: every key is checked)

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        from checkers.linearizable.partition import check_calls

        model = self.model
        by_key = self.independent or bool(getattr(model, "keyed", False))
        calls = history.calls(observed_failures=model.observed_failures, independent=by_key)
        validate_calls(history, calls, model)
        linear = check_calls(
            calls,
            model,
            by_key=by_key,
            timeout=self.timeout,
            jobs=self.jobs,
            max_configs=self.max_configs,
            fail_fast=self.fail_fast,
        )

        anomalies: list[Anomaly] = []
        explain_seconds = 0.0
        completions: dict[int, int] | None = None
        for k in linear.keys:
            if k.valid is not False:
                continue
            t0 = time.monotonic()
            if completions is None:
                from checkers.linearizable.explain import completion_positions

                completions = completion_positions(history)
            full = len(anomalies) < self.explain_limit and explain_seconds < self.explain_budget
            anomalies.append(self._anomaly(history, k, by_key, full, completions))
            explain_seconds += time.monotonic() - t0
        stats = _stats(history, model, linear, by_key, explain_seconds)
        return CheckResult(valid=linear.valid, anomalies=anomalies, stats=stats)

    def _anomaly(
        self, history: History, k: Any, by_key: bool, full: bool, completions: dict[int, int]
    ) -> Anomaly:
        """One failing key's anomaly; ``full`` shrinks it and draws a wide window."""
        from checkers.linearizable.explain import explain
        from checkers.linearizable.narrate import narrate

        e = explain(
            history,
            k.key,
            k.calls,
            k.result,
            self.model,
            independent=by_key,
            shrink_budget=self.shrink_budget if full else 0.0,
            max_configs=self.max_configs,
            window_limit=160 if full else 24,
            completions=completions,
        )
        details = e.to_json()  # once: the narrative reads the same data
        details["narrative"] = narrate(details, self.model)
        ops = {o["index"] for o in details["shrunk_ops"]}
        if e.failing is not None:
            ops.add(e.failing.invoke)
            if e.failing.complete is not None:
                ops.add(e.failing.complete)
        on_key = "" if k.key is None else f"key {k.key!r}: "
        blame = (
            f"{e.failing.description} by process {e.failing.process} (op {e.failing.invoke})"
            if e.failing
            else "a call"
        )
        return Anomaly(
            checker=NAME,
            kind="nonlinearizable",
            summary=f"{on_key}{blame} cannot be linearized after {len(e.prefix)} of {e.calls_total} calls",
            ops=sorted(ops),
            details=details,
            fingerprint=f"nonlinearizable/{self.model.name}",
        )


def validate_calls(history: History, calls: list[Any], model: Any) -> None:
    """Raise ``HistoryError`` (file:line: problem) for the first call the model cannot read."""
    for c in calls:
        problem = model.validate(c)
        if problem:
            raise HistoryError(problem, source=history.source, line=history.line(c.call))


def _stats(
    history: History, model: Any, linear: Any, by_key: bool, explain_seconds: float
) -> dict[str, Any]:
    per_key: dict[str, Any] = {}
    unknown: list[dict[str, Any]] = []
    for k in linear.keys:
        name = "all" if k.key is None else str(k.key)
        row = {
            "valid": k.valid,
            "calls": len(k.calls),
            "seconds": round(k.seconds, 6),
            "explored": k.result.explored,
        }
        if k.valid == "unknown":
            row["reason"] = k.result.reason
            unknown.append({"key": None if k.key is None else name, "reason": k.result.reason})
        per_key[name] = row
    return {
        "model": model_ref(model),
        "independent": by_key,
        "ops": len(history),
        "calls": sum(len(k.calls) for k in linear.keys),
        "keys": len(linear.keys),
        "keys_valid": sum(1 for k in linear.keys if k.valid is True),
        "keys_invalid": sum(1 for k in linear.keys if k.valid is False),
        "keys_unknown": len(unknown),
        "unknown": unknown[:UNKNOWN_LISTED],
        "per_key": per_key,
        "explored": sum(k.result.explored for k in linear.keys),
        "seconds": round(linear.seconds, 6),
        "explain_seconds": round(explain_seconds, 6),
    }


# --- on call: the runbook entry of this checker's kind (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="nonlinearizable",
        what="Whether some order of every client call on a key, respecting real time, explains every "
        "value the clients saw (a Knossos/Porcupine-style search, key by key).",
        fires="Any key whose calls admit no such order: one anomaly per key, with the shortest "
        "sub-history that still fails and the earlier call that rules the failing one out. "
        "Severity error: the run is INVALID.",
        cause="A read served by replicas that never overlapped the last write quorum (seed 003 snippet 1: "
        "N=3, W=1, R=1), or a quorum read that skipped its write-back, which is regular but not "
        "linearizable (seed 000, the quorum layer).",
        look=(
            "`seam check RUN` prints each key's proof in words; `RUN/linear.html` and "
            "`RUN/graphs/linear-*.png` draw the calls around the failing one.",
            "`jq '.checkers.linearizable.anomalies[] | {summary, key: .details.key}' RUN/results.json`, "
            "then `jq '.checkers.quorum.stats' RUN/results.json` for the N, W, R the nodes ran with.",
            "`grep -h 'store: replication' RUN/nodes/*/node.log` (W and R per node, after any bug flag) "
            "and `jq '.options.bugs' RUN/test.json`.",
        ),
        verify="`seam test --workload register --scenario slow-replica --bug weak-quorum --seed 7` is "
        "INVALID with this kind and the same command without `--bug` is VALID (likewise "
        "`--bug no-write-back`); `seam regress regressions/nonlinearizable` still finds every case.",
    ),
)
