"""The fast path for flat integer op maps (``harness.formats.edn_ops``) builds exactly
the ops the general EDN reader builds, or steps aside: on generated histories in
both key orders, and on the same texts with one character changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.errors import HistoryError
from harness.formats.edn import parse_edn
from harness.formats.edn_ops import ops_of
from harness.formats.knossos import entries_to_ops, read_edn, read_edn_forms
from tests.conftest import ORACLE, require_oracle

ints = st.integers(min_value=-(10**20), max_value=10**20)
atoms = st.one_of(st.none(), ints)
values = st.one_of(atoms, st.lists(atoms, max_size=3))
seps = st.sampled_from([", ", " ", ",\n  ", "\n", " , "])


def edn(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, list):
        return "[" + " ".join(map(edn, v)) + "]"
    return str(v)


@st.composite
def op_map(draw: Any, jepsen: bool) -> str:
    process = draw(st.one_of(st.integers(0, 200), st.just(":nemesis")))
    fields = {
        "process": str(process),
        "type": ":" + draw(st.sampled_from(["invoke", "ok", "fail", "info"])),
        "f": ":" + draw(st.sampled_from(["read", "write", "cas", "acquire", "start"])),
        "value": edn(draw(values)),
    }
    order = ["process", "type", "f", "value"]
    if jepsen:  # Jepsen's order, with :time and :index
        order = ["type", "f", "value", "process"]
        if draw(st.booleans()):
            fields["time"] = str(draw(st.integers(0, 10**12)))
            order.append("time")
        if draw(st.booleans()):
            fields["index"] = str(draw(st.integers(0, 10**6)))
            order.append("index")
    sep = draw(seps)
    return "{" + sep.join(f":{k} {fields[k]}" for k in order) + "}"


@st.composite
def history_text(draw: Any) -> str:
    maps = draw(st.lists(op_map(draw(st.booleans())), min_size=1, max_size=12))
    joined = draw(st.sampled_from(["\n ", " ", ",\n", "\n ; a comment, {:x 1}\n "])).join(maps)
    left, right = draw(st.sampled_from([("[", "]"), ("(", ")"), ("", ""), ("[\n", "\n]\n")]))
    return left + joined + right


def general_ops(text: str) -> list[str] | str:
    """The ops the general reader builds before pairing (types shown), or its error."""
    try:
        forms = parse_edn(text)
        entries = forms[0] if len(forms) == 1 and isinstance(forms[0], list) else forms
        return [repr(op.to_json()) for op in entries_to_ops(entries, source="<string>", lines=[])]
    except HistoryError as e:
        return f"error: {e}"


def read(reader: Any, text: str) -> list[str] | str:
    """A whole reader's history (types shown), or its error with its line."""
    try:
        return [repr(op.to_json()) for op in reader(text).ops]
    except HistoryError as e:
        return f"error: {e}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_text())
def test_generated_histories_read_as_the_general_reader_reads_them(text: str) -> None:
    fast = ops_of(text)
    expected = general_ops(text)
    if fast is None:  # only for what the path leaves out: integers over 18 digits
        assert any(len(tok.strip("-[]{},")) > 18 for tok in text.split())
        return
    assert [repr(op.to_json()) for op in fast[0]] == expected
    assert fast[1] == (1 if text.lstrip()[0] in "[(" else 0)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_text(), st.data())
def test_a_changed_character_gives_the_general_readers_ops_or_steps_aside(text: str, data: Any) -> None:
    at = data.draw(st.integers(0, len(text) - 1))
    c = data.draw(st.sampled_from(list('"#{}[]()x0-+:; ,\n') + ["nil", ":y 1", "} {", "0N", "1.5"]))
    changed = text[:at] + c + text[at + 1 :]
    if ops_of(changed) is not None:
        assert [repr(op.to_json()) for op in ops_of(changed)[0]] == general_ops(changed)
        assert read(read_edn, changed) == read(read_edn_forms, changed)  # errors name the same line


@pytest.mark.parametrize("name", ["cas-register/bad/bad-analysis.edn", "cas-register/good/memstress3-55.edn"])
def test_knossos_files_take_the_fast_path_and_keep_their_ops(name: str) -> None:
    require_oracle(ORACLE / "knossos" / name)
    text = (ORACLE / "knossos" / name).read_text()
    assert ops_of(text) is not None
    assert read(read_edn, text) == read(read_edn_forms, text)
    assert read_edn(text).line(3) == 4  # one map per line, the first after the opening bracket
