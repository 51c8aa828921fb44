"""Sequential specifications that a linearizability search checks against.

A model is a pure state machine: ``init()`` gives the initial state and
``step(state, call)`` says whether ``call`` is legal in ``state`` and what the
state becomes. States are hashable, because the search memoizes
(linearized set, state) pairs.

How a call's outcome reaches the model (see ``harness.core.op``):

* ``call.input`` is the invoke's value, ``call.output`` the completion's
  value; ``UNKNOWN`` when nobody saw it (a crashed op, an unknown read);
  ``True`` for a cas that succeeded; ``False`` for a cas whose compare failed
  and that the model counts as an observation (``observed_failures``).
* A crashed call (``ret == INF``) may take effect at any instant after its
  invoke, or never. The search supplies the "never"; the model only says what
  the call does *if* it takes effect, with its output ``UNKNOWN``.

Each model also compiles a call into a one-argument function
(``compile(call)(state) -> next state or ILLEGAL``). The search calls that in
its hot loop; ``step`` is defined from it, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, runtime_checkable

from harness.core.errors import InputError
from harness.core.op import UNKNOWN, Call

__all__ = [
    "ILLEGAL",
    "MODELS",
    "Model",
    "get_model",
    "freeze",
    "Register",
    "CasRegister",
    "EtcdRegister",
    "MultiRegister",
    "Mutex",
    "KV",
]


class _Illegal:
    def __repr__(self) -> str:
        return "ILLEGAL"


#: What a compiled step returns when the call is not legal in the state.
ILLEGAL: Any = _Illegal()

Stepper = Callable[[Any], Any]


@runtime_checkable
class Model(Protocol):
    """A sequential specification.

    Invariants an implementation keeps: ``step`` is pure and deterministic;
    states are hashable and equal states behave identically; a call whose
    ``output`` is ``UNKNOWN`` is checked only for its effect, never for what
    it returned.

    Optional hooks the search uses when present (every model here has them):
    ``compile(call)`` (a one-argument step, for speed), ``read_only(call)``
    (the call never changes the state wherever it is legal: such calls are
    linearized greedily, so a wrong True breaks the search), and
    ``hopeless(call)`` with ``helps(call)`` (early dead ends; see
    ``_Base.hopeless``), and ``sees_crashed(observers)`` (which crashed calls
    can be left out; see ``_Base.sees_crashed``).
    """

    name: str
    observed_failures: frozenset[str]
    keyed: bool

    def init(self) -> Hashable: ...

    def step(self, state: Any, call: Call) -> tuple[bool, Hashable]: ...

    def validate(self, call: Call) -> str | None: ...

    def describe_call(self, call: Call) -> str: ...

    def describe_state(self, state: Any) -> str: ...


def freeze(value: Any) -> Hashable:
    """A hashable twin of a JSON-like value: lists become tuples, dicts sorted item tuples.

    Frozen values compare as JSON and EDN define them, not as Python does:
    ``True == 1`` in Python, but a read of ``1`` never matches a write of
    ``true``, so booleans freeze to ``TRUE``/``FALSE``, equal only to
    themselves (and keys ``1`` and ``true`` are different keys).
    """
    if type(value) in _SCALARS:
        return value
    if value is True or value is False:
        return TRUE if value else FALSE
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        items = [(freeze(k), freeze(v)) for k, v in value.items()]
        try:
            return tuple(sorted(items))
        except TypeError:  # keys of several types (EDN maps): any fixed order will do
            return tuple(sorted(items, key=lambda kv: (type(kv[0]).__name__, repr(kv[0]))))
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


_SCALARS = frozenset((int, str, float, type(None)))


class Boolean:
    """A frozen JSON/EDN boolean: equal only to itself, never to ``1`` or ``0``."""

    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __repr__(self) -> str:
        return "true" if self.value else "false"

    def __reduce__(self) -> str:  # the singletons survive pickling to worker processes
        return "TRUE" if self.value else "FALSE"


TRUE: Any = Boolean(True)
FALSE: Any = Boolean(False)


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True or value is False:
        return "true" if value else "false"
    if value is UNKNOWN:
        return "?"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + " ".join(_show(v) for v in value) + "]"
    return str(value)


class _Base:
    """Shared plumbing: ``step`` from ``compile``; the known functions of the model."""

    name = "base"
    observed_failures: frozenset[str] = frozenset()
    keyed = False
    functions: tuple[str, ...] = ()

    def init(self) -> Hashable:
        raise NotImplementedError

    def compile(self, call: Call) -> Stepper:
        raise NotImplementedError

    def read_only(self, call: Call) -> bool:
        """True if ``call`` never changes the state wherever it is legal (the search relies on it)."""
        return False

    def hopeless(self, call: Call) -> tuple[Stepper, Hashable] | None:
        """Optional pruning for a read-only call: ``(test, need)`` where ``test(s)`` is
        True if no sequence of calls that do not provide ``need`` (see
        ``helps``) leads from ``s`` to a state where ``call`` is legal."""
        return None

    def helps(self, call: Call) -> tuple[Hashable, ...]:
        """The ``need``s (see ``hopeless``) that ``call`` may provide when it takes effect."""
        return ()

    def sees_crashed(self, observers: Sequence[Call]) -> Callable[[Call], bool] | None:
        """Optional pruning: a test ``sees(crashed)`` that is False only if no call
        in ``observers`` can ever tell whether the crashed call took effect.

        The search leaves out every crashed call that no completed call (nor
        any crashed call kept) sees, so a wrong False breaks the search. The
        contract, which each model's docstring argues: let U be the states
        that no observer's legality or effect can tell from others (e.g.
        register values nobody reads or compares against). Applying a crashed
        call that is not seen only ever moves the state into U, and from a
        state in U every observer behaves as from any other state. So a
        linearization without the unseen crashed calls is still legal, and
        leaving them out is exact. ``None``: cannot tell, keep them all.
        The test for a union of observers must be the ``or`` of the tests for
        its parts (``prune.seen_crashed`` asks about new observers only).
        """
        return None

    def step(self, state: Any, call: Call) -> tuple[bool, Hashable]:
        nxt = self.compile(call)(state)
        if nxt is ILLEGAL:
            return False, state
        return True, nxt

    def _unknown_f(self, call: Call) -> str | None:
        if call.f not in self.functions:
            expected = ", ".join(self.functions)
            return f"the {self.name} model has no operation {call.f!r} (expected {expected})"
        return None

    def describe_state(self, state: Any) -> str:
        return _show(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(initial={self.describe_state(self.init())})"


# --------------------------------------------------------------------------- registers


def _read_stepper(output: Any) -> Stepper:
    """A read is legal iff it saw the current value; an unknown read constrains nothing."""
    if output is UNKNOWN:
        return lambda s: s
    want = freeze(output)
    return lambda s: s if s == want else ILLEGAL


class Register(_Base):
    """A read/write register (Knossos ``register``).

    * ``write v``: always legal; the value becomes ``v``.
    * ``read -> v``: legal iff the value is ``v``. ``None`` is the value of a
      register never written (when the initial value is ``None``), checked like
      any other; an ``UNKNOWN`` output constrains nothing.
    """

    name = "register"
    functions: tuple[str, ...] = ("read", "write")

    def __init__(self, initial: Any = None):
        self.initial = freeze(initial)

    def init(self) -> Hashable:
        return self.initial

    def compile(self, call: Call) -> Stepper:
        f = call.f
        if f == "read":
            return _read_stepper(call.output)
        if f == "write":
            v = freeze(call.input)
            return lambda s: v
        return lambda s: ILLEGAL

    def read_only(self, call: Call) -> bool:
        return call.f == "read"

    def hopeless(self, call: Call) -> tuple[Stepper, Hashable] | None:
        """A read of ``v`` from a state other than ``v`` needs a call that writes ``v``."""
        if call.f != "read" or call.output is UNKNOWN:
            return None
        want = freeze(call.output)
        return (lambda s: s != want), want

    def helps(self, call: Call) -> tuple[Hashable, ...]:
        if call.f == "write":
            return (freeze(call.input),)
        if call.f == "cas" and call.output is not False:
            try:
                return (freeze(call.input[1]),)
            except (TypeError, IndexError, KeyError):
                return ()
        return ()

    def sees_crashed(self, observers: Sequence[Call]) -> Callable[[Call], bool] | None:
        """A crashed write of ``v`` (or cas to ``v``) is seen only by a read that
        returned ``v`` or a cas that expects ``v``: U is every value nobody
        reads or compares against. A failed cas that is observed (legal iff
        the value is *not* ``old``) can tell almost any value apart, so it
        sees every crashed call."""
        seen: set[Hashable] = set()
        for c in observers:
            f = c.f
            if f == "read":
                if c.output is not UNKNOWN:
                    seen.add(freeze(c.output))
            elif f == "cas":
                if c.output is False:
                    return _sees_all
                seen.add(freeze(_pair(c.input)[0]))
            elif f != "write":
                return _sees_all
        return _sees_written(seen)

    def validate(self, call: Call) -> str | None:
        problem = self._unknown_f(call)
        if problem:
            return problem
        if call.f == "write" and call.input is UNKNOWN:
            return "write needs a value"
        return None

    def describe_call(self, call: Call) -> str:
        if call.f == "read":
            return f"read → {_show(call.output)}"
        if call.f == "write":
            return f"write {_show(call.input)}"
        if call.f == "cas":
            old, new = _pair(call.input)
            if call.crashed:
                tail = " (crashed)"
            elif call.output is True:
                tail = ""
            elif call.output is False:
                tail = " (compare failed)"
            else:
                tail = " (outcome unknown)"
            return f"cas {_show(old)}→{_show(new)}{tail}"
        return f"{call.f} {_show(call.input)}"


def _sees_all(crashed: Call) -> bool:
    return True


def _sees_written(seen: set[Hashable]) -> Callable[[Call], bool]:
    """A crashed write or cas is seen iff the value it leaves behind is in ``seen``."""

    def sees(crashed: Call) -> bool:
        if crashed.f == "write":
            return freeze(crashed.input) in seen
        if crashed.f == "cas":
            return freeze(_pair(crashed.input)[1]) in seen
        return True

    return sees


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return value, None


def _cas_problem(call: Call) -> str | None:
    v = call.input
    if not isinstance(v, list | tuple) or len(v) != 2:
        return f"cas value must be [old, new], got {v!r}"
    return None


class CasRegister(Register):
    """A compare-and-set register (Knossos ``cas-register``).

    * ``read`` and ``write`` as in ``register``.
    * ``cas [old, new]`` that succeeded (or crashed, when it takes effect):
      legal iff the value is ``old``; the value becomes ``new``. A crashed cas
      can therefore take effect only where the value equals ``old`` (or
      never).
    * Knossos drops failed ops, so a cas with output ``False`` normally never
      reaches this model; if one does, it is read as an observation: legal iff
      the value is not ``old``, and nothing changes.
    """

    name = "cas-register"
    functions = ("read", "write", "cas")

    def compile(self, call: Call) -> Stepper:
        f = call.f
        if f == "read":  # as Register.compile, without the call to it (a step per call)
            return _read_stepper(call.output)
        if f != "cas":
            return super().compile(call)
        old, new = _pair(call.input)
        old, new = freeze(old), freeze(new)
        if call.output is False:
            return lambda s: s if s != old else ILLEGAL
        return lambda s: new if s == old else ILLEGAL

    def read_only(self, call: Call) -> bool:
        return call.f == "read" or (call.f == "cas" and call.output is False)

    def validate(self, call: Call) -> str | None:
        f = call.f
        if f == "cas":
            return self._unknown_f(call) or _cas_problem(call)
        return super().validate(call)


class EtcdRegister(CasRegister):
    """Porcupine's etcd register: a cas register that starts empty (``None``).

    * ``read -> None`` is legal iff the register is empty; ``read -> v`` iff it
      holds ``v``; an unknown read (timed out) is always legal.
    * ``write v``: always legal; the value becomes ``v``.
    * ``cas [a, b]`` that succeeded (output ``True``): legal iff it holds ``a``;
      it becomes ``b``.
    * ``cas [a, b]`` that failed (output ``False``) is an observation: legal
      iff the register does not hold ``a`` (empty counts as "not ``a``");
      nothing changes. Hence ``observed_failures = {"cas"}``.
    * a crashed cas (output ``UNKNOWN``) is always legal: if it holds ``a`` it
      becomes ``b``, otherwise nothing changes.
    """

    name = "etcd-register"
    observed_failures = frozenset({"cas"})

    def compile(self, call: Call) -> Stepper:
        if call.f == "cas" and call.output is UNKNOWN:
            old, new = _pair(call.input)
            old, new = freeze(old), freeze(new)
            return lambda s: new if s == old else s
        return super().compile(call)


# --------------------------------------------------------------------------- multi-register


class MultiRegister(_Base):
    """Knossos ``multi-register``: a map of registers updated by atomic transactions.

    ``txn`` takes a list of micro-ops ``["read", k, v]`` / ``["write", k, v]``
    applied in order; a read is legal iff ``v`` is ``None`` (unconstrained) or
    equals the current value of ``k``. The transaction is legal iff every
    micro-op is. The completion's value (reads filled in) is what is checked;
    a crashed txn uses its invoke value. The state is a sorted tuple of
    ``(key, value)`` pairs, so it hashes.
    """

    name = "multi-register"

    @staticmethod
    def initial_from_json(stored: Any) -> Any:
        """A stored state is a list of [register, value] pairs; the constructor takes a map."""
        return {str(k): v for k, v in stored} if isinstance(stored, list) else stored
    functions = ("txn",)

    def __init__(self, initial: Any = None):
        if initial is None:
            initial = {}
        if not isinstance(initial, dict):
            raise InputError(
                f'multi-register initial state must be a map like {{"x": 0}}, got {initial!r}'
            )
        self.initial = tuple(sorted((freeze(k), freeze(v)) for k, v in initial.items()))

    def init(self) -> Hashable:
        return self.initial

    @staticmethod
    def _micro_ops(call: Call) -> Any:
        return call.input if call.output is UNKNOWN else call.output

    def compile(self, call: Call) -> Stepper:
        if call.f != "txn":
            return lambda s: ILLEGAL
        ops = [(str(m[0]), freeze(m[1]), freeze(m[2])) for m in self._micro_ops(call)]

        def step(s: Any) -> Any:
            regs = dict(s)
            for f, k, v in ops:
                if f == "write":
                    regs[k] = v
                elif v is not None and regs.get(k) != v:
                    return ILLEGAL
            return tuple(sorted(regs.items()))

        return step

    def read_only(self, call: Call) -> bool:
        ops = self._micro_ops(call)
        return isinstance(ops, list | tuple) and all(m[0] == "read" for m in ops)

    def sees_crashed(self, observers: Sequence[Call]) -> Callable[[Call], bool] | None:
        """Per register, as in ``register``: a crashed txn is seen only if some
        observer's micro-op reads ``k = v`` (``v`` not ``None``) for a ``k = v``
        the txn writes. U is, per key, the values nobody reads."""
        seen: set[tuple[Hashable, Hashable]] = set()
        for c in observers:
            ops = self._micro_ops(c)
            if not isinstance(ops, list | tuple):
                return _sees_all
            for f, k, v in ops:
                if f != "write" and v is not None:
                    seen.add((freeze(k), freeze(v)))

        def sees(crashed: Call) -> bool:
            ops = self._micro_ops(crashed)
            if not isinstance(ops, list | tuple):
                return True
            return any(f == "write" and (freeze(k), freeze(v)) in seen for f, k, v in ops)

        return sees

    def validate(self, call: Call) -> str | None:
        problem = self._unknown_f(call)
        if problem:
            return problem
        ops = self._micro_ops(call)
        if not isinstance(ops, list | tuple):
            return f"txn value must be a list of [f, key, value] micro-ops, got {ops!r}"
        for m in ops:
            if not isinstance(m, list | tuple) or len(m) != 3 or m[0] not in ("read", "write"):
                return f'txn micro-op must be ["read"|"write", key, value], got {m!r}'
        return None

    def describe_call(self, call: Call) -> str:
        ops = self._micro_ops(call)
        if not isinstance(ops, list | tuple):
            return f"txn {_show(ops)}"
        parts = []
        for f, k, v in ops:
            parts.append(f"{'r' if f == 'read' else 'w'} {k} {_show(v)}")
        return "txn [" + ", ".join(parts) + "]"

    def describe_state(self, state: Any) -> str:
        return "{" + ", ".join(f"{k} {_show(v)}" for k, v in state) + "}"


# --------------------------------------------------------------------------- mutex


class Mutex(_Base):
    """Knossos ``mutex``: ``acquire`` is legal iff unlocked, ``release`` iff locked.

    Ownership is not tracked: any process may release. The state is a bool,
    ``True`` meaning locked.
    """

    name = "mutex"

    @staticmethod
    def initial_from_json(stored: Any) -> Any:
        """A stored state is true (locked) or false; the constructor takes either word."""
        return ("locked" if stored else "unlocked") if isinstance(stored, bool) else stored
    functions = ("acquire", "release")

    def __init__(self, initial: Any = "unlocked"):
        if initial in (None, "unlocked", False):
            self.initial = False
        elif initial in ("locked", True):
            self.initial = True
        else:
            raise InputError(f'mutex initial state must be "unlocked" or "locked", got {initial!r}')

    def init(self) -> Hashable:
        return self.initial

    def compile(self, call: Call) -> Stepper:
        if call.f == "acquire":
            return lambda s: ILLEGAL if s else True
        if call.f == "release":
            return lambda s: False if s else ILLEGAL
        return lambda s: ILLEGAL

    def validate(self, call: Call) -> str | None:
        return self._unknown_f(call)

    def describe_call(self, call: Call) -> str:
        return call.f

    def describe_state(self, state: Any) -> str:
        return "locked" if state else "unlocked"


# --------------------------------------------------------------------------- kv


class KV(_Base):
    """Porcupine's kv map, always checked one key at a time (P-compositionality).

    Values are ``[key, v]``; the partitioner splits the key off, so for each
    key the state is one string, ``""`` until something is stored.

    * ``get -> s``: legal iff the value is ``s`` (``None`` reads as ``""``);
      an unknown get constrains nothing.
    * ``put s``: the value becomes ``s``.
    * ``append s``: the value becomes the old value followed by ``s``.
    """

    name = "kv"
    keyed = True
    functions = ("get", "put", "append")

    def __init__(self, initial: Any = ""):
        if initial is None:
            initial = ""
        if not isinstance(initial, str):
            raise InputError(f"kv initial value must be a string, got {initial!r}")
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def compile(self, call: Call) -> Stepper:
        f = call.f
        if f == "get":
            if call.output is UNKNOWN:
                return lambda s: s
            want = "" if call.output is None else call.output
            return lambda s: s if s == want else ILLEGAL
        if f == "put":
            v = call.input
            return lambda s: v
        if f == "append":
            v = call.input
            return lambda s: s + v
        return lambda s: ILLEGAL

    def read_only(self, call: Call) -> bool:
        return call.f == "get"

    def helps(self, call: Call) -> tuple[Hashable, ...]:
        """Only a put can set an arbitrary value; appends only extend (see ``hopeless``)."""
        return ("put",) if call.f == "put" else ()

    def hopeless(self, call: Call) -> tuple[Stepper, Hashable] | None:
        """For a get of ``want``: from ``s``, gets and appends alone reach only
        strings that start with ``s``, so without a put the get is hopeless
        unless ``want`` starts with ``s``."""
        if call.f != "get" or call.output is UNKNOWN:
            return None
        want = "" if call.output is None else call.output
        return (lambda s: not want.startswith(s)), "put"

    def sees_crashed(self, observers: Sequence[Call]) -> Callable[[Call], bool] | None:
        """A crashed put or append of ``v`` is seen only by a get whose result
        contains ``v``. From the instant a put of ``v`` takes effect, until the
        next put, the value starts with ``v``; after an append of ``v``, it
        contains ``v``. U is the strings that no get result starts with:
        appends keep a string in U, and a get is legal only outside U.
        An empty ``v`` is in every result, so it is always seen."""
        wants: set[str] = set()
        for c in observers:
            if c.f == "get" and c.output is not UNKNOWN:
                wants.add("" if c.output is None else str(c.output))
            elif c.f not in ("put", "append"):
                return _sees_all
        # One substring search over all results; a match across the separator
        # only keeps a call that could have been left out, never the reverse.
        results = "\x00".join(wants)

        def sees(crashed: Call) -> bool:
            v = crashed.input
            return not isinstance(v, str) or v in results

        return sees

    def validate(self, call: Call) -> str | None:
        problem = self._unknown_f(call)
        if problem:
            return problem
        if call.key is None:
            return "kv values must be [key, value] (the key is missing)"
        if call.f in ("put", "append") and not isinstance(call.input, str):
            return f"kv {call.f} value must be a string, got {call.input!r}"
        if (
            call.f == "get"
            and call.output not in (UNKNOWN, None)
            and not isinstance(call.output, str)
        ):
            return f"kv get result must be a string, got {call.output!r}"
        return None

    def describe_call(self, call: Call) -> str:
        key = "" if call.key is None else f"{_show(call.key)} "
        if call.f == "get":
            return f"get {key}→ {_show(call.output)}"
        return f"{call.f} {key}{_show(call.input)}"


# --------------------------------------------------------------------------- registry

def _discover() -> dict[str, Callable[..., Any]]:
    """Every model class declared in this module, by its ``name``, found as faults are:
    a new model is a class here with a ``name`` and ``init``/``step``, nothing else to edit."""
    found: dict[str, Callable[..., Any]] = {}
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, _Base) and value is not _Base and "name" in vars(value):
            found[value.name] = value
    return dict(sorted(found.items()))


#: The built-in models by name, discovered from the classes above.
MODELS: dict[str, Callable[..., Any]] = _discover()

_DEFAULT = object()


def model_class(name: str) -> Callable[..., Any]:
    """The factory of a built-in model, or of one from outside Seam named by its module
    path (``mykv.models:Counter`` or ``mykv.models.Counter``, importable from PYTHONPATH)."""
    if name in MODELS:
        return MODELS[name]
    module, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
    known = ", ".join(MODELS)
    if not module or not attr:
        raise InputError(f"unknown model {name!r}; known models: {known}, or a module path "
                         "such as mykv.models:Counter")
    import importlib

    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise InputError(f"model {name!r}: cannot import it ({e}); the module must be on PYTHONPATH "
                         f"(built-in models: {known})") from None
    if not callable(factory) or not all(hasattr(factory, a) for a in ("init", "step", "name")):
        raise InputError(f"model {name!r} is not a model: it needs name, init() and step(state, call) "
                         "(see checkers/linearizable/models.py, Model)")
    return factory


def model_ref(model: Any) -> str:
    """The name ``get_model`` finds ``model`` by again: its ``name`` when that is a built-in
    of the same class, else its module path (so a case of an outside model re-checks)."""
    name = str(getattr(model, "name", ""))
    try:
        if model_class(name) is type(model):
            return name
    except InputError:
        pass
    return f"{type(model).__module__}:{type(model).__qualname__}"


def initial_argument(name: str, stored: Any) -> Any:
    """The initial state as ``get_model(name, ...)`` takes it, from the JSON form an
    explanation stores (``jsonable(model.init())``); the model decodes its own."""
    decode = getattr(model_class(name), "initial_from_json", None)
    return decode(stored) if decode is not None else stored


def get_model(name: str, initial: Any = _DEFAULT) -> Model:
    """The model called ``name`` (see ``model_class``), starting from ``initial`` (each
    model's default if omitted)."""
    factory = model_class(name)
    if initial is _DEFAULT:
        return factory()  # type: ignore[no-any-return]
    return factory(initial)  # type: ignore[no-any-return]
