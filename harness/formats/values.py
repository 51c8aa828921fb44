"""What a history value may be, and the JSON decoding every reader shares.

A reader accepts exactly the values a checker can compare exactly, and turns
anything else into a one-line ``HistoryError`` instead of a crash later on:

* numbers are finite: JSON ``NaN``/``Infinity`` (which Python's ``json``
  accepts), EDN ``##NaN``/``##Inf`` and literals too large for a float
  (``1e400``) are bad input. NaN is not equal to itself, so no read could
  ever match a write of it;
* integers have at most ``MAX_DIGITS`` digits, Python's own limit for
  turning text into an ``int`` (beyond it ``int()`` raises, and a quadratic
  conversion would stall the reader);
* values nest at most ``MAX_DEPTH`` levels. A deeper value would overflow
  the stack of the C JSON scanner, of ``freeze`` or of the writers; no real
  history comes near it.

Booleans stay Python ``bool`` in ``Op.value`` (every writer and report
understands them); the linearizability models compare frozen values
(``checkers.linearizable.models.freeze``), where ``true`` is never ``1``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

#: Deepest nesting of lists and maps inside one op's value or field.
MAX_DEPTH = 100
#: Most digits an integer literal may have (CPython's default limit).
MAX_DIGITS = sys.get_int_max_str_digits() or 4300

_NESTED = (list, dict, tuple, frozenset, set)


class BadValue(ValueError):
    """A value no checker can compare; ``str()`` is the problem, ready for a HistoryError."""


def _no_constant(name: str) -> Any:
    raise BadValue(f"{name} is not a number a history can hold (values must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadValue(f"{_short(text)} is too large for a float (values must be finite)")
    return value


def _short(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."


#: A JSON decoder that rejects NaN, Infinity and float overflow.
DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def loads(text: str) -> Any:
    """``json.loads`` under the rules above; raises BadValue (a ValueError) naming the problem.

    ``json.JSONDecodeError`` keeps its own message and position; an integer
    over the digit limit and nesting too deep become BadValue.
    """
    try:
        value = DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise BadValue(f"nested more than {MAX_DEPTH} levels deep") from None
    except BadValue:
        raise
    except ValueError as e:  # int() over the digit limit
        raise BadValue(problem_of(e)) from None
    if too_deep(value, MAX_DEPTH + 1):
        raise BadValue(f"nested more than {MAX_DEPTH} levels deep")
    return value


def problem_of(e: BaseException) -> str:
    """A reader's message for an exception raised while decoding a value."""
    if isinstance(e, RecursionError):
        return f"nested more than {MAX_DEPTH} levels deep"
    text = str(e)
    if "integer string conversion" in text:
        return f"an integer with more than {MAX_DIGITS} digits"
    return text


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists, maps or sets more than ``limit`` levels (a scalar is 0)."""
    if value.__class__ not in _NESTED:
        return False
    if limit <= 0:
        return True
    items = value.values() if value.__class__ is dict else value
    return any(x.__class__ in _NESTED and too_deep(x, limit - 1) for x in items)


def deep_field(row: dict[str, Any]) -> str | None:
    """The first field of an op whose value nests more than MAX_DEPTH levels, or None."""
    for name, v in row.items():
        if v.__class__ in _NESTED and too_deep(v):
            return name
    return None


def check_number_token(tok: str) -> str | None:
    """The problem with an atom's text, or None: an integer literal over the digit limit.

    Only long atoms are looked at, so calling it on every atom is cheap.
    """
    if len(tok) <= MAX_DIGITS or not (tok[0].isdigit() or tok[1:2].isdigit()):
        return None
    if any(c in tok for c in ".eExX/") or sum(c.isdigit() for c in tok) <= MAX_DIGITS:
        return None  # floats, hex and ratios have no digit limit in int()
    return f"an integer with more than {MAX_DIGITS} digits"


def bad_value(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why an op's value cannot be checked (nested too deeply, or NaN/Infinity inside), or None."""
    cls = value.__class__
    if cls is float:
        if math.isfinite(value):
            return None
        return f"holds {value}: NaN and Infinity are not values a checker can compare"
    if cls not in _NESTED:
        return None
    if limit <= 0:
        return f"nested more than {MAX_DEPTH} levels deep"
    items = value.values() if cls is dict else value
    for x in items:
        problem = bad_value(x, limit - 1)
        if problem:
            return problem
    return None
