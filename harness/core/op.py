"""Operations and histories, in Jepsen's model.

An ``Op`` is one line of a history: an ``invoke`` or one of its completions,
``ok`` (it happened), ``fail`` (it definitely did not happen) or ``info`` (we
cannot know; the process is then retired). A ``History`` is the list of ops in
the order the control node saw them; that order *is* the real-time order, and
``time`` is informational only.

Checkers do not look at raw ops; they look at ``Call``s: an invoke paired with
its completion, with a call position and a return position in the history.
``History.calls`` builds them, and this is where the semantic choices live:

* a ``fail`` op did not happen and constrains nothing, so it is dropped,
  unless the model says that a failure of that function was an observation
  (Porcupine's etcd register: a cas whose compare failed saw another value);
* an ``info`` op, or an invoke still open at the end of the history, crashed:
  it may take effect at any instant after its invoke, or never, so its return
  position is ``INF`` and its output is ``UNKNOWN``;
* ops of the ``nemesis`` process are never calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.core.errors import HistoryError

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset(("invoke", "ok", "fail", "info"))
NEMESIS = "nemesis"

#: Return position of a crashed call: after everything.
INF = 1 << 62


class _Unknown:
    """The output of a call whose result nobody saw (a crashed op, a timed-out read)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True, slots=True)
class Op:
    """One history entry. ``extra`` holds fields checkers may ignore (node, error, key).

    ``unknown`` marks an ``ok`` completion whose value carries no information
    (Knossos reads that returned nil, etcd reads that timed out): the call
    happened but its output constrains nothing.
    """

    index: int
    time: int
    process: int | str
    type: str
    f: str
    value: Any = None
    unknown: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_client(self) -> bool:
        return self.process != NEMESIS

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "value": self.value,
        }
        if self.unknown:
            row["unknown"] = True
        row.update(self.extra)
        return row


@dataclass(slots=True)
class Call:
    """An invoke paired with its completion: what a linearizability search orders.

    ``call`` and ``ret`` are positions in the history (``ret`` is ``INF`` for a
    crashed call). ``input`` is the invoke's value; ``output`` is what the
    completion reported (``UNKNOWN`` when nobody saw it, ``True``/``False``
    for a cas that succeeded or whose compare failed).
    """

    id: int
    process: int | str
    f: str
    input: Any
    output: Any
    call: int
    ret: int
    invoke_index: int
    complete_index: int | None
    key: Any = None

    @property
    def crashed(self) -> bool:
        return self.ret == INF


class History(Sequence[Op]):
    """A validated list of ops. Construction checks pairing; it never reorders."""

    def __init__(self, ops: Iterable[Op], *, source: str = "<history>", lines: Sequence[int] | None = None):
        self.ops: list[Op] = list(ops)
        self.source = source
        self._lines = lines
        self._validate()

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, i):  # type: ignore[override]
        return self.ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def line(self, position: int) -> int:
        """The source line of the op at ``position``, for error messages."""
        return self._lines[position] if self._lines is not None else position + 1


    def _validate(self) -> None:
        open_by_process: dict[Any, int] = {}
        for pos, op in enumerate(self.ops):
            if op.type not in OP_TYPES:
                raise HistoryError(
                    f"unknown op type {op.type!r} (expected invoke, ok, fail or info)",
                    source=self.source,
                    line=self.line(pos),
                )
            if op.process == NEMESIS:
                continue
            if op.type == "invoke":
                if op.process in open_by_process:
                    first = self.line(open_by_process[op.process])
                    raise HistoryError(
                        f"process {op.process} invokes again while its op from line {first} is still open",
                        source=self.source,
                        line=self.line(pos),
                    )
                open_by_process[op.process] = pos
            elif op.process in open_by_process:
                del open_by_process[op.process]
            elif op.type != "info":
                # A lone info (Knossos nemesis notes, a process crash report) is ignorable;
                # a lone ok or fail means the history lost its invoke.
                raise HistoryError(
                    f"{op.type} completion by process {op.process} with no open invoke",
                    source=self.source,
                    line=self.line(pos),
                )

    @property
    def client_ops(self) -> list[Op]:
        return [op for op in self.ops if op.process != NEMESIS]

    @property
    def nemesis_ops(self) -> list[Op]:
        return [op for op in self.ops if op.process == NEMESIS]

    def pairs(self) -> list[tuple[Op, Op | None]]:
        """Every client invoke with its completion (None when it never completed)."""
        out: list[tuple[Op, Op | None]] = []
        open_by_process: dict[Any, int] = {}
        for op in self.ops:
            if op.process == NEMESIS:
                continue
            if op.type == "invoke":
                open_by_process[op.process] = len(out)
                out.append((op, None))
            elif op.process in open_by_process:
                slot = open_by_process.pop(op.process)
                out[slot] = (out[slot][0], op)
        return out

    def calls(
        self,
        *,
        observed_failures: frozenset[str] = frozenset(),
        independent: bool = False,
    ) -> list[Call]:
        """The calls a checker must linearize, in invoke order.

        ``observed_failures`` names functions whose ``fail`` is a completed
        observation rather than a non-event (see the module docstring).
        With ``independent``, every value is ``[key, v]``; the call gets
        ``key`` and ``v`` as its input (and output).
        """
        calls: list[Call] = []
        open_by_process: dict[Any, Call] = {}
        for pos, op in enumerate(self.ops):
            if op.process == NEMESIS:
                continue
            if op.type == "invoke":
                key, value = _split(op, independent, self, pos)
                c = Call(len(calls), op.process, op.f, value, UNKNOWN, pos, INF, op.index, None, key)
                open_by_process[op.process] = c
                calls.append(c)
                continue
            done = open_by_process.pop(op.process, None)
            if done is None:
                continue
            if op.type == "ok":
                done.ret = pos
                done.complete_index = op.index
                if op.unknown:
                    done.output = UNKNOWN
                elif op.f == "cas" and done.f == "cas":
                    done.output = True
                else:
                    _, done.output = _split(op, independent, self, pos)
            elif op.type == "fail":
                if op.f in observed_failures:
                    done.ret = pos
                    done.complete_index = op.index
                    done.output = False
                else:
                    done.id = -1  # dropped below
            # info: crashed, keeps ret=INF and output UNKNOWN
        kept = [c for c in calls if c.id != -1]
        for i, c in enumerate(kept):
            c.id = i
        return kept


def _split(op: Op, independent: bool, history: History, pos: int) -> tuple[Any, Any]:
    # The line is looked up only for the error: readers may compute lines lazily.
    if not independent:
        return None, op.value
    v = op.value
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise HistoryError(
            f"--independent expects every value to be [key, value], got {v!r}",
            source=history.source,
            line=history.line(pos),
        )
    key = v[0]
    if isinstance(key, list):
        key = tuple(key)
    return key, v[1]


def op_from_json(row: dict[str, Any], *, source: str = "<history>", line: int | None = None) -> Op:
    """Build an Op from one parsed JSONL object, naming the line on a bad shape."""
    try:
        process = row["process"]
        typ = row["type"]
        f = row["f"]
    except KeyError as e:
        raise HistoryError(f"op is missing the field {e.args[0]!r}", source=source, line=line) from None
    except TypeError:
        raise HistoryError(f"expected a JSON object, got {type(row).__name__}", source=source, line=line) from None
    if not isinstance(process, (int, str)) or isinstance(process, bool):
        raise HistoryError(f"process must be an integer or \"nemesis\", got {process!r}", source=source, line=line)
    if typ not in OP_TYPES:
        raise HistoryError(f"unknown op type {typ!r} (expected invoke, ok, fail or info)", source=source, line=line)
    extra = {k: v for k, v in row.items() if k not in _CORE_FIELDS}
    return Op(
        index=row.get("index", -1) if isinstance(row.get("index"), int) else -1,
        time=row.get("time", 0) if isinstance(row.get("time"), int) else 0,
        process=process,
        type=typ,
        f=str(f),
        value=row.get("value"),
        unknown=bool(row.get("unknown", False)),
        extra=extra,
    )


_CORE_FIELDS = frozenset(("index", "time", "process", "type", "f", "value", "unknown"))
