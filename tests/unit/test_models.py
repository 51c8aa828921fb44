"""Each model's step rules, value checks and the registry."""

from __future__ import annotations

from typing import Any

import pytest

from checkers.linearizable.models import MODELS, Model, get_model
from harness.core.errors import InputError
from harness.core.op import INF, UNKNOWN, Call

NOT = "illegal"


def call(
    f: str, input: Any = None, output: Any = UNKNOWN, *, crashed: bool = False, key: Any = None
) -> Call:
    return Call(0, 0, f, input, output, 0, INF if crashed else 1, 0, None if crashed else 1, key)


def outcome(model: Model, state: Any, c: Call) -> Any:
    ok, nxt = model.step(state, c)
    return nxt if ok else NOT


# (model, initial or None for the default, state, call, expected next state or NOT)
STEPS = [
    # register: reads must see the value; None is "never written"; UNKNOWN is unconstrained
    ("register", None, None, call("read", None, None), None),
    ("register", None, None, call("read", None, 3), NOT),
    ("register", None, 3, call("read", None, 3), 3),
    ("register", None, 3, call("read", None, None), NOT),
    ("register", None, 3, call("read", None, UNKNOWN), 3),
    ("register", None, 3, call("write", 4, 4), 4),
    ("register", None, None, call("write", 4, crashed=True), 4),
    ("register", None, (1, 2), call("read", None, [1, 2]), (1, 2)),
    # cas-register: ok and crashed cas need value == old
    ("cas-register", 0, 0, call("cas", [0, 1], True), 1),
    ("cas-register", 0, 2, call("cas", [0, 1], True), NOT),
    ("cas-register", 0, 0, call("cas", [0, 1], crashed=True), 1),
    ("cas-register", 0, 2, call("cas", [0, 1], crashed=True), NOT),
    ("cas-register", 0, 2, call("cas", [0, 1], False), 2),
    ("cas-register", 0, 0, call("cas", [0, 1], False), NOT),
    ("cas-register", 0, 5, call("write", 1, 1), 1),
    ("cas-register", 0, 5, call("read", None, 5), 5),
    # etcd-register: empty start, failed cas is an observation, crashed cas always legal
    ("etcd-register", None, None, call("read", None, None), None),
    ("etcd-register", None, 0, call("read", None, None), NOT),
    ("etcd-register", None, 0, call("read", None, UNKNOWN), 0),
    ("etcd-register", None, 1, call("cas", [1, 2], True), 2),
    ("etcd-register", None, None, call("cas", [1, 2], True), NOT),
    ("etcd-register", None, None, call("cas", [1, 2], False), None),
    ("etcd-register", None, 3, call("cas", [1, 2], False), 3),
    ("etcd-register", None, 1, call("cas", [1, 2], False), NOT),
    ("etcd-register", None, 1, call("cas", [1, 2], crashed=True), 2),
    ("etcd-register", None, 3, call("cas", [1, 2], crashed=True), 3),
    ("etcd-register", None, None, call("cas", [1, 2], crashed=True), None),
    # multi-register: reads with None are unconstrained; writes apply in order
    (
        "multi-register",
        {"x": 0, "y": 0},
        (("x", 0), ("y", 0)),
        call("txn", None, [["read", "x", 0], ["write", "y", 2], ["read", "y", 2]]),
        (("x", 0), ("y", 2)),
    ),
    (
        "multi-register",
        {"x": 0, "y": 0},
        (("x", 0), ("y", 0)),
        call("txn", None, [["read", "x", 1]]),
        NOT,
    ),
    (
        "multi-register",
        {"x": 0, "y": 0},
        (("x", 1), ("y", 0)),
        call("txn", None, [["read", "x", None], ["write", "x", 2]]),
        (("x", 2), ("y", 0)),
    ),
    (
        "multi-register",
        {"x": 0, "y": 0},
        (("x", 0), ("y", 0)),
        call("txn", [["write", "x", 1]], crashed=True),
        (("x", 1), ("y", 0)),
    ),
    # mutex
    ("mutex", None, False, call("acquire"), True),
    ("mutex", None, True, call("acquire"), NOT),
    ("mutex", None, True, call("release"), False),
    ("mutex", None, False, call("release"), NOT),
    # kv: one key's string; None reads as ""
    ("kv", None, "", call("get", None, "", key="k"), ""),
    ("kv", None, "", call("get", None, None, key="k"), ""),
    ("kv", None, "a", call("get", None, "", key="k"), NOT),
    ("kv", None, "a", call("get", None, UNKNOWN, key="k"), "a"),
    ("kv", None, "a", call("put", "b", key="k"), "b"),
    ("kv", None, "a", call("append", "b", key="k"), "ab"),
]


@pytest.mark.parametrize("name, initial, state, c, expected", STEPS)
def test_step(name: str, initial: Any, state: Any, c: Call, expected: Any) -> None:
    model = get_model(name) if initial is None else get_model(name, initial)
    assert outcome(model, state, c) == expected


@pytest.mark.parametrize(
    "name, initial, expected",
    [
        ("register", None, None),
        ("cas-register", None, None),
        ("etcd-register", None, None),
        ("mutex", None, False),
        ("kv", None, ""),
        ("multi-register", None, ()),
        ("cas-register", 0, 0),
        ("multi-register", {"y": 0, "x": 1}, (("x", 1), ("y", 0))),
        ("mutex", "locked", True),
    ],
)
def test_initial_state(name: str, initial: Any, expected: Any) -> None:
    model = get_model(name) if initial is None else get_model(name, initial)
    assert model.init() == expected
    hash(model.init())


def test_step_is_pure_and_states_hash() -> None:
    model = get_model("multi-register", {"x": 0})
    c = call("txn", None, [["write", "x", [1, 2]]])
    s0 = model.init()
    ok, s1 = model.step(s0, c)
    assert ok and s0 == (("x", 0),) and s1 == (("x", (1, 2)),)
    assert model.step(s0, c) == (True, s1)
    hash(s1)


@pytest.mark.parametrize(
    "name, c, problem",
    [
        ("register", call("cas", [1, 2], True), "no operation 'cas'"),
        ("cas-register", call("cas", 3, True), "cas value must be [old, new], got 3"),
        ("cas-register", call("cas", [1, 2, 3], True), "cas value must be [old, new]"),
        ("etcd-register", call("frob", 1), "no operation 'frob'"),
        ("multi-register", call("txn", None, 5), "txn value must be a list"),
        ("multi-register", call("txn", None, [["swap", "x", 1]]), "micro-op must be"),
        ("mutex", call("lock"), "no operation 'lock'"),
        ("kv", call("put", "a"), "the key is missing"),
        ("kv", call("put", 5, key="k"), "kv put value must be a string"),
        ("kv", call("get", None, 7, key="k"), "kv get result must be a string"),
    ],
)
def test_validate_rejects_wrong_shapes(name: str, c: Call, problem: str) -> None:
    message = get_model(name).validate(c)
    assert message is not None and problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name, c",
    [
        ("register", call("write", 1, 1)),
        ("cas-register", call("cas", [1, 2], True)),
        ("etcd-register", call("cas", [1, 2], False)),
        ("multi-register", call("txn", None, [["read", "x", None], ["write", "y", 1]])),
        ("mutex", call("acquire")),
        ("kv", call("append", "x", key="k")),
    ],
)
def test_validate_accepts_right_shapes(name: str, c: Call) -> None:
    assert get_model(name).validate(c) is None


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(InputError) as e:
        get_model("queue")
    for name in MODELS:
        assert name in str(e.value)


@pytest.mark.parametrize(
    "name, initial", [("mutex", "ajar"), ("multi-register", 3), ("multi-register", 0), ("kv", 5)]
)
def test_bad_initial_state(name: str, initial: Any) -> None:
    with pytest.raises(InputError):
        get_model(name, initial)


def test_registry_and_flags() -> None:
    assert set(MODELS) == {
        "register",
        "cas-register",
        "multi-register",
        "mutex",
        "kv",
        "etcd-register",
    }
    for name in MODELS:
        model = get_model(name)
        assert isinstance(model, Model)
        assert model.name == name
        assert model.keyed is (name == "kv")
    assert get_model("etcd-register").observed_failures == frozenset({"cas"})
    assert get_model("cas-register").observed_failures == frozenset()


@pytest.mark.parametrize(
    "name, c, text",
    [
        ("register", call("write", 3, 3), "write 3"),
        ("register", call("read", None, 4), "read → 4"),
        ("register", call("read", None, UNKNOWN), "read → ?"),
        ("register", call("read", None, None), "read → nil"),
        ("cas-register", call("cas", [1, 2], True), "cas 1→2"),
        ("etcd-register", call("cas", [1, 2], False), "cas 1→2 (compare failed)"),
        ("cas-register", call("cas", [1, 2], crashed=True), "cas 1→2 (crashed)"),
        ("mutex", call("acquire"), "acquire"),
        ("kv", call("append", "x", key="k"), "append 'k' 'x'"),
        ("kv", call("get", None, "ab", key="k"), "get 'k' → 'ab'"),
    ],
)
def test_describe_call(name: str, c: Call, text: str) -> None:
    assert get_model(name).describe_call(c) == text


def test_describe_state() -> None:
    assert get_model("register").describe_state(None) == "nil"
    assert get_model("mutex").describe_state(True) == "locked"
    assert get_model("multi-register").describe_state((("x", 1), ("y", 2))) == "{x 1, y 2}"


@pytest.mark.parametrize(
    "name, c, expected",
    [
        ("register", call("read", None, 1), True),
        ("register", call("write", 1), False),
        ("etcd-register", call("cas", [1, 2], False), True),
        ("etcd-register", call("cas", [1, 2], True), False),
        ("kv", call("get", None, "", key="k"), True),
        ("kv", call("append", "a", key="k"), False),
        ("multi-register", call("txn", None, [["read", "x", 1]]), True),
        ("multi-register", call("txn", None, [["read", "x", 1], ["write", "x", 1]]), False),
        ("mutex", call("acquire"), False),
    ],
)
def test_read_only_calls_never_change_state(name: str, c: Call, expected: bool) -> None:
    """The search takes a legal read-only call greedily, so this flag must be exact."""
    model = get_model(name)
    assert model.read_only(c) is expected
