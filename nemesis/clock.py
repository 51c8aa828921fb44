"""Clock skew without touching the host clock: the target offsets one node's wall clock.

How is the target's business (``Skewable.skew_clock``). The pipeline writes
a per-node offset file in libfaketime's syntax (``+5s``, ``-3s``, ``+0s``)
that its nodes read through a shim of their own, or through libfaketime
preloaded with ``FAKETIME_TIMESTAMP_FILE``; the service sees it at once (the
shim within 50 ms), and the host clock never changes. Only a target whose
processes obey its mechanism declares the ability: etcd, a Go binary, ignores
libfaketime and refuses these faults.

Ops: ``bump`` (value ``{"node": "n2", "seconds": -30}``, a random node and
offset when omitted), ``strobe`` (``{"node", "seconds", "period", "duration"}``:
flip between +seconds and -seconds every period, for duration, then reset),
``reset`` (every node back to +0s).

Two faults use them: ``clock`` (a bump, undone by ``reset`` one interval
later) and ``strobe`` (a pulse: its op resets the clock before it completes).
Both write ``clock`` rows to the ledger.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.core.errors import UnsupportedError
from harness.core.op import Op
from harness.core.options import duration
from harness.core.protocols import Remote, Skewable, Test
from nemesis.aim import RANDOM, aim_value, check_aim, pick_node, target_option
from nemesis.spec import HEAL_CLOCK, FaultSpec, MootEnv, NemesisContext, Package, moot_with_workdir
from nemesis.state import Fault, FaultLedger

KIND = "clock"  # the ledger kind of both faults
NEEDS = "a target that can offset a node's wall clock and whose processes obey it (Skewable)"


def offset_text(seconds: float) -> str:
    """libfaketime's relative offset syntax: ``+12.5s`` / ``-3s``."""
    return f"{seconds:+g}s"


class ClockNemesis:
    def __init__(
        self,
        remote: Remote,
        target: Any,
        nodes: Sequence[str],
        *,
        seed: int = 0,
        ledger: FaultLedger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not isinstance(target, Skewable):
            raise UnsupportedError(
                f"the clock nemesis needs a target that can offset a node's wall clock (Skewable); {type(target).__name__} cannot"
            )
        self.remote = remote
        self.target = target
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.ledger = ledger or FaultLedger(None)
        self.sleep = sleep
        self.skewed: dict[str, Fault] = {}

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def _write(self, test: Test | None, node: str, seconds: float) -> None:
        if seconds != 0 and node not in self.skewed:
            fault = Fault(KIND, node, {})
            self.ledger.applied(fault)  # first: a crash from here on still resets the node
            self.skewed[node] = fault
        self.target.skew_clock(test, node, seconds)
        if seconds == 0 and node in self.skewed:
            self.ledger.healed(self.skewed.pop(node))

    def invoke(self, test: Test | None, op: Op) -> Op:
        spec = op.value if isinstance(op.value, dict) else {}
        if op.f == "bump":
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            seconds = float(spec.get("seconds", self.rng.choice([-1, 1]) * self.rng.randint(1, 60)))
            self._write(test, node, seconds)
            return replace(op, type="info", value={"node": node, "seconds": seconds})
        if op.f == "strobe":
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            seconds = float(spec.get("seconds", 10))
            period = float(spec.get("period", 0.5))
            duration = float(spec.get("duration", 5))
            flips = max(1, int(duration / period))
            for i in range(flips):
                self._write(test, node, seconds if i % 2 == 0 else -seconds)
                self.sleep(period)
            self._write(test, node, 0)
            return replace(op, type="info", value={"node": node, "seconds": seconds, "period": period, "flips": flips})
        if op.f == "reset":
            self.heal(test)
            return replace(op, type="info", value="reset")
        raise ValueError(f"clock nemesis does not know op {op.f!r}")

    def heal(self, test: Test | None) -> None:
        for node in self.nodes:
            self._write(test, node, 0)


def write_offset(remote: Remote, node: str, path: str, seconds: float) -> None:
    """Replace the node's faketime file. Written via upload so that any Remote works."""
    with tempfile.TemporaryDirectory(prefix="seam-clock-") as tmp:
        local = Path(tmp) / "faketime"
        local.write_text(offset_text(seconds) + "\n", encoding="utf-8")
        remote.upload(node, local, path)


def undo_clock(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Put the node back on the real clock: rows of older runs name the offset file that
    was written, reset to +0s; otherwise through the target heal rebuilt."""
    if "file" in fault.detail:
        write_offset(remote, fault.node, fault.detail["file"], 0)
    elif isinstance(target, Skewable):
        target.skew_clock(test, fault.node, 0)
    else:
        raise UnsupportedError(f"cannot reset the clock of {fault.node}: the run's target cannot be rebuilt to do it")


def moot_clock(fault: Fault, env: MootEnv) -> str | None:
    """A skew lives in the node's run directory (the offset file its processes read):
    without the node or that directory, nothing reads it."""
    path = fault.detail.get("file")
    if path is None:
        return moot_with_workdir(fault, env)
    return None if env.exists(fault.node, path) else f"{path} is gone, so no process reads it"


def _nemesis(ctx: NemesisContext, options: Mapping[str, Any], name: str) -> ClockNemesis:
    check_aim(name, options["target"], ctx)
    return ClockNemesis(ctx.remote, ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)


def build_clock(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    nem = _nemesis(ctx, options, CLOCK.name)
    most = max(1, int(options["max-skew"]))

    def begin(rng: random.Random) -> dict[str, Any]:
        seconds = rng.choice([-1, 1]) * rng.randint(1, most)
        return CLOCK.start_op({**aim_value(options["target"], ctx, rng), "seconds": seconds})

    return Package(CLOCK.name, nem, begin, CLOCK.stop_op(), [CLOCK.stop_op()])


def build_strobe(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    nem = _nemesis(ctx, options, STROBE.name)
    shape = {"seconds": options["skew"], "period": options["period"], "duration": options["duration"]}

    def begin(rng: random.Random) -> dict[str, Any]:
        return STROBE.start_op({**aim_value(options["target"], ctx, rng), **shape})

    return Package(STROBE.name, nem, begin, None, [STROBE.stop_op("reset")])


CLOCK = FaultSpec(
    name="clock",
    summary="skew a node's wall clock by up to +/- max-skew, reset one interval later",
    start="bump",
    stop="reset",
    kind=KIND,
    needs=NEEDS,
    ability=Skewable,
    build=build_clock,
    undo=undo_clock,
    moot=moot_clock,
    colour="#f28e2b",
    options=(
        duration("max-skew", 30.0, "the largest offset, either way; each bump picks 1 s up to it"),
        target_option(RANDOM),
    ),
    heal_stage=HEAL_CLOCK,
)

STROBE = FaultSpec(
    name="strobe",
    summary="flip a node's wall clock between +skew and -skew every period for duration, then reset",
    start="strobe",
    stop=None,
    kind=KIND,
    needs=NEEDS,
    ability=Skewable,
    build=build_strobe,
    undo=undo_clock,
    moot=moot_clock,
    colour="#ff9da7",
    options=(
        duration("skew", 10.0, "the offset the clock flips to, + and -"),
        duration("period", 0.5, "how long each flip lasts"),
        duration("duration", 5.0, "how long the strobe lasts (the nemesis is busy for that long)"),
        target_option(RANDOM),
    ),
    heal_stage=HEAL_CLOCK,
)
