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

Every reader that needs invokes and completions together (``History``'s
validation and ``calls``, the checkers, the report) gets them from ``pairs``
(built on ``pairing``, whose docstring states the one rule): an invoke is
completed by the next completion of its process, and an invoke never completed
is open.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, Literal, NamedTuple, TypeVar

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


T = TypeVar("T")

#: ``fields`` for ``pairs`` over ``Op``s: ``(process, type)``.
op_fields: Callable[[Any], tuple[Any, Any]] = attrgetter("process", "type")


def row_fields(row: Mapping[str, Any]) -> tuple[Any, Any]:
    """``fields`` for ``pairs`` over JSON rows (a missing field is None)."""
    return row.get("process"), row.get("type")


class Pair(NamedTuple, Generic[T]):
    """A client invoke and its completion, with both positions in the history.

    ``completion`` (and ``completion_pos``) is None while the call is *open*:
    the history ends, or its process invokes again, before it completes (see
    ``pairs``). Callers treat an open call like an ``info``: it crashed.
    """

    invoke: T
    completion: T | None
    invoke_pos: int
    completion_pos: int | None

    @property
    def open(self) -> bool:
        return self.completion_pos is None


#: ``Pairing.completions`` of a call never completed.
OPEN = -1


@dataclass(slots=True)
class Pairing:
    """The pairing of a history, as positions: what ``pairs`` is built from.

    ``invokes[k]`` is the position of the k-th client invoke and
    ``completions[k]`` that of its completion, ``OPEN`` (-1) while open.
    Arrays of machine integers, not lists of objects, so that pairing a
    history of millions of ops allocates no object per call and ``History``
    can keep its pairing for ``calls`` at 16 bytes a call. ``reinvoked``:
    ``(open invoke, invoke)`` positions where a process invoked again while
    its call was open (a torn history). ``orphans``: positions of completions
    with no open invoke.
    """

    invokes: array[int]
    completions: array[int]
    reinvoked: list[tuple[int, int]]
    orphans: list[int]


def pairing(ops: Iterable[Any], fields: Callable[[Any], tuple[Any, Any]] = op_fields) -> Pairing:
    """Pair every client invoke with its completion: the one rule every reader shares.

    ``fields(op)`` gives ``(process, type)``: ``op_fields`` for ``Op``s (the
    default), ``row_fields`` for JSON rows. The rule, in history order:

    * ops of the ``nemesis`` process are faults, not calls: never paired;
    * an ``invoke`` opens a call for its process; the next op of that process
      of any other type (``ok``, ``fail``, ``info``) completes it;
    * a process id is a key only while its call is open: a process that
      completed with ``info`` and invokes again (a reused id, as some foreign
      histories do) starts a new, independent call;
    * a torn history (the control node died mid-write, a lost line): a process
      that invokes while its call is still open leaves that call *open*, never
      completed, exactly like an invoke still open at the end; it is recorded
      in ``reinvoked``. ``History`` rejects such histories; tolerant readers
      (the report) draw them;
    * a completion with no open invoke pairs with nothing and is recorded in
      ``orphans`` (a lone ``info`` is a note, such as Knossos' process crash
      report; ``History`` rejects a lone ``ok`` or ``fail``).

    Calls come in invoke order, so an open call is never lost.
    """
    invokes = array("q")
    completions = array("q")
    open_: dict[Any, int] = {}  # process -> its open call's slot in invokes
    reinvoked: list[tuple[int, int]] = []
    orphans: list[int] = []
    for pos, op in enumerate(ops):
        process, typ = fields(op)
        if process == NEMESIS:
            continue
        if typ == "invoke":
            torn = open_.get(process)
            if torn is not None:
                reinvoked.append((invokes[torn], pos))
            open_[process] = len(invokes)
            invokes.append(pos)
            completions.append(OPEN)
            continue
        slot = open_.pop(process, None)
        if slot is None:
            orphans.append(pos)
        else:
            completions[slot] = pos
    return Pairing(invokes, completions, reinvoked, orphans)


def pairs(ops: Sequence[T], fields: Callable[[T], tuple[Any, Any]] = op_fields) -> list[Pair[T]]:
    """Every client invoke with its completion (None while open), in invoke order.

    See ``pairing`` for the rule. ``ops`` is a sequence (a list of ``Op``s or
    of JSON rows): each ``Pair`` holds the ops themselves and their positions.
    """
    return _pairs(ops, pairing(ops, fields))


def _pairs(ops: Sequence[T], found: Pairing) -> list[Pair[T]]:
    return [
        Pair(ops[i], None, i, None) if j == OPEN else Pair(ops[i], ops[j], i, j)
        for i, j in zip(found.invokes, found.completions, strict=True)
    ]


class History(Sequence[Op]):
    """A validated list of ops. Construction checks pairing; it never reorders.

    A history never changes once built: it keeps the ``pairing`` it validated
    for ``pairs`` and ``calls``.
    """

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
        # Raise for the first problem in history order, whichever kind it is.
        problems: list[tuple[int, str]] = []
        if not OP_TYPES.issuperset({op.type for op in self.ops}):
            bad = next(pos for pos, op in enumerate(self.ops) if op.type not in OP_TYPES)
            typ = self.ops[bad].type
            problems.append((bad, f"unknown op type {typ!r} (expected invoke, ok, fail or info)"))
        found = pairing(self.ops)
        if found.reinvoked:
            first, pos = found.reinvoked[0]
            problems.append(
                (
                    pos,
                    f"process {self.ops[pos].process} invokes again while its op from line"
                    f" {self.line(first)} is still open",
                )
            )
        # A lone info (Knossos nemesis notes, a process crash report) is ignorable;
        # a lone ok or fail means the history lost its invoke.
        lone = next((pos for pos in found.orphans if self.ops[pos].type != "info"), None)
        if lone is not None:
            op = self.ops[lone]
            problems.append((lone, f"{op.type} completion by process {op.process} with no open invoke"))
        if problems:
            pos, message = min(problems)
            raise HistoryError(message, source=self.source, line=self.line(pos))
        self._pairing = found

    @property
    def client_ops(self) -> list[Op]:
        return [op for op in self.ops if op.process != NEMESIS]

    @property
    def nemesis_ops(self) -> list[Op]:
        return [op for op in self.ops if op.process == NEMESIS]

    def pairs(self) -> list[Pair[Op]]:
        """Every client invoke with its completion (None when it never completed); see ``pairs``."""
        return _pairs(self.ops, self._pairing)

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

        Built with the cyclic collector paused: the calls hold no cycles, and
        on a long history its scans of every op, triggered again and again by
        the new calls, cost three times the building itself.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._calls(observed_failures, independent)
        finally:
            if collecting:
                gc.enable()

    def _calls(self, observed_failures: frozenset[str], independent: bool) -> list[Call]:
        ops = self.ops
        found = self._pairing
        calls: list[Call] = []
        append = calls.append
        new_call = Call
        for call, ret in zip(found.invokes, found.completions, strict=True):
            inv = ops[call]
            value = inv.value
            if not independent:
                key = None
            elif value.__class__ is list and len(value) == 2 and value[0].__class__ is not list:
                key, value = value  # the common [key, value]; anything else goes to _split
            else:
                key, value = _split(inv, independent, self, call)
            done = None if ret == OPEN else ops[ret]
            if done is None or done.type == "info":  # crashed: ret INF, output UNKNOWN
                append(new_call(len(calls), inv.process, inv.f, value, UNKNOWN, call, INF, inv.index, None, key))
                continue
            if done.type == "ok":
                if done.unknown:
                    output = UNKNOWN
                elif done.f == "cas" and inv.f == "cas":
                    output = True
                elif not independent:
                    output = done.value
                else:
                    _, output = _split(done, independent, self, ret)
            elif done.f in observed_failures:  # fail
                output = False
            else:  # a fail that did not happen constrains nothing
                continue
            append(new_call(len(calls), inv.process, inv.f, value, output, call, ret, inv.index, done.index, key))
        return calls


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
