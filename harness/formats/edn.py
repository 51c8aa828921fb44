"""EDN text to plain Python values, fast for the subset Jepsen writes.

Values come out plain: keywords and symbols as strings without the colon
(``:read`` -> ``"read"``), vectors and lists as ``list``, maps as ``dict``,
sets as ``frozenset``, ``nil`` as ``None``. Map keys and set elements that
are collections become tuples so that they stay hashable.

``edn_format`` is the reference reader, but it parses about 1 MB/s, slower
than checking the histories it reads. So the text is translated to JSON and
the C decoder of the standard ``json`` module builds the values. Strings
and comments are cut out by one regular expression, the rest is split into
tokens with ``str.split``, and each distinct token is translated once.
Three tiers, each used only when the one before cannot be sure (a history of
flat integer op maps, the commonest, is read before any of them by
``harness.formats.edn_ops``):

1. ``_parse_op_maps``: maps whose keys are all Jepsen op fields (``:process``,
   ``:type``, ``:f``, ...) become JSON objects directly. A keyword that is
   one of those names is written as an object key (``"f":``); if one is
   used anywhere else, or another keyword is used as a key, the JSON is
   invalid and the tier gives up, so a successful decode is the right
   structure. No Python code runs per token or per map.
2. ``_parse_framed``: any collection, carried by marker strings that
   ``_collection`` checks (brackets match, maps have pairs) and turns into
   values. A map with a repeated key is left to edn_format, which keeps
   the last value.
3. ``parse_reference``: ``edn_format`` (imported only then), for what the
   tiers do not translate: tagged literals, symbols, characters, ``1N``,
   ``1/2``, unusual string escapes.

A syntax error is reported with its line by ``scan_forms``, a slower scan
that runs only when the fast tiers fail. It also rejects, with their line,
what neither reader can build (``harness.formats.values``): integers over
the digit limit and forms nested more than ``MAX_DEPTH`` levels inside an
op. Values are otherwise EDN's own: ``##Inf`` is read as ``inf``, and the
op reader (``harness.formats.knossos``) rejects what no checker can compare.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.core.errors import HistoryError
from harness.formats._build import offsets_to_lines
from harness.formats.values import MAX_DEPTH, check_number_token

# Marker strings: they cannot come from EDN text (strings holding NUL go to edn_format).
_MAP, _SET, _LIST = "\x00{", "\x00#", "\x00("
_MAP_END, _LIST_END = "\x00}", "\x00)"
_OPENERS = (_MAP, _SET, _LIST)

_STATIC = {
    "[": "[",
    "(": '["\\u0000(",',
    "{": '["\\u0000{",',
    "#{": '["\\u0000#",',
    "]": "],",
    ")": '"\\u0000)"],',
    "}": '"\\u0000}"],',
    "nil": "null,",
    "true": "true,",
    "false": "false,",
}

_SHARED_ESCAPE = re.compile(r'\\(?:["\\nrtbf]|u[0-9a-fA-F]{4})')


def _odd_escape(tok: str) -> bool:
    """Whether a string token has an escape that EDN and JSON might read differently."""
    return "\\" in tok and "\\" in _SHARED_ESCAPE.sub("", tok)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_EDN_ONLY_NUMBER = re.compile(
    r"[-+]?[0-9]+N|[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?M?|[-+]?[0-9]+/[0-9]+"
    r"|[-+]?0[xX][0-9a-fA-F]+N?|[-+]?[0-9]+[rR][0-9a-zA-Z]+"
)


class _Unsupported(Exception):
    """EDN the fast path does not translate; edn_format reads the whole text instead."""


class _Syntax(Exception):
    def __init__(self, problem: str, offset: int):
        super().__init__(problem)
        self.problem = problem
        self.offset = offset


def parse_edn(text: str, *, source: str = "<string>") -> list[Any]:
    """Every top-level form of ``text``, as plain values. Bad EDN raises HistoryError."""
    try:
        tokens = tokenize(text)
        try:
            return _parse_op_maps(tokens)
        except (_NotOpMaps, ValueError, RecursionError):
            pass
        return _parse_framed(tokens)
    except (_Unsupported, _Syntax, ValueError, RecursionError):
        pass
    # The fast tiers gave up (the first problem they met is not necessarily the
    # first in the text). Scan the whole text in order: a syntax error, a value
    # no checker can compare or too deep a nesting is reported with its line;
    # anything else (tags, symbols, 1N) is for the reference reader.
    try:
        scan_forms(text, keep_going=True)
    except _Unsupported:
        pass  # #_ discards a form: the reference reader counts the rest
    except _Syntax as e:
        line = text.count("\n", 0, e.offset) + 1
        raise HistoryError(f"invalid EDN: {e.problem}", source=source, line=line) from None
    return parse_reference(text, source=source)


#: Keywords tier 1 writes as JSON object keys: the fields of a Jepsen op map.
OP_KEYS = frozenset(("process", "type", "f", "value", "time", "index", "error", "key", "node"))

# Openers and keys carry no comma; every other token is followed by one, and
# the commas left before a closer are removed afterwards.
_OP_MAP_STATIC = {
    "{": "{",
    "}": "},",
    "[": "[",
    "]": "],",
    "(": "[",
    ")": "],",
    "nil": "null,",
    "true": "true,",
    "false": "false,",
}


class _NotOpMaps(Exception):
    """Tier 1 cannot be sure of this text; tier 2 reads it."""


def _parse_op_maps(tokens: list[str]) -> list[Any]:
    """Tier 1: texts whose maps are op maps, decoded as JSON objects in one call."""
    distinct = set(tokens)
    if "#{" in distinct:
        raise _NotOpMaps
    if "(" in distinct or ")" in distinct:
        # Lists and vectors both become JSON arrays, so a "(" closed by "]" would
        # pass unnoticed; allow only the common shape: one list around everything.
        if not (
            tokens[0] == "(" and tokens[-1] == ")" and tokens.count("(") == tokens.count(")") == 1
        ):
            raise _NotOpMaps
    table = dict(_OP_MAP_STATIC)
    for tok in distinct.difference(table):
        atom = _translate(tok)
        table[tok] = atom + ":" if tok[0] == ":" and tok[1:] in OP_KEYS else atom + ","
    body = (
        ("[" + "".join(map(table.__getitem__, tokens)) + "]").replace(",}", "}").replace(",]", "]")
    )
    forms = json.loads(body)
    # JSON keeps the last of two equal keys; EDN forbids them. Every emitted
    # key must still be there, counted over the op maps (any map nested deeper
    # makes the counts differ, and tier 2 checks it properly).
    entries = forms[0] if len(forms) == 1 and forms[0].__class__ is list else forms
    if set(map(type, entries)) - {dict} or sum(map(len, entries)) != body.count('":'):
        raise _NotOpMaps
    return forms


def _parse_framed(tokens: list[str]) -> list[Any]:
    """Tier 2: any EDN the translation handles, collections framed by markers."""
    return _build(_decode_framed(tokens))


def _decode_framed(tokens: list[str]) -> list[Any]:
    table = dict(_STATIC)
    for tok in set(tokens).difference(table):
        table[tok] = _translate(tok) + ","
    body = "".join(map(table.__getitem__, tokens))
    return json.loads(("[" + body + "]").replace(",]", "]"))


def tokenize(text: str) -> list[str]:
    """EDN tokens: strings whole, brackets alone, atoms split on whitespace and commas.

    Strings and comments are cut out by one regular expression (it finds
    whichever starts first, so a ``;`` inside a string or a ``"`` inside a
    comment is no trouble); the rest is padded around brackets and split
    with ``str.split``, which is much faster than matching every token.
    """
    if '"' not in text and ";" not in text:
        return _split_structure(text)
    tokens: list[str] = []
    for i, seg in enumerate(_STRING_OR_COMMENT.split(text)):
        if i % 2:
            if seg[0] == '"':
                tokens.append(seg)
        elif seg:
            tokens.extend(_split_structure(seg))
    return tokens


def _split_structure(seg: str) -> list[str]:
    """Tokens of text that holds no string and no comment."""
    if "#{" in seg:
        if "\x01" in seg:
            raise _Unsupported("a control character outside strings")
        seg = seg.replace("#{", "\x01")
    return (
        seg.replace(",", " ")
        .replace("[", " [ ")
        .replace("]", " ] ")
        .replace("{", " { ")
        .replace("}", " } ")
        .replace("(", " ( ")
        .replace(")", " ) ")
        .replace("\x01", " #{ ")
        .split()
    )


_STRING_OR_COMMENT = re.compile(r'("[^"\\]*(?:\\[\s\S][^"\\]*)*"|;[^\n]*)')


_ESCAPE_PUNCTUATION = str.maketrans({c: f"\\u{ord(c):04x}" for c in ",:[]{}"})


def _translate(tok: str) -> str:
    """JSON text for one atom. Raises _Unsupported for what only edn_format reads."""
    c = tok[0]
    if c == ":":
        if len(tok) == 1:
            raise _Syntax("a lone ':' is not a keyword", 0)
        return json.dumps(tok[1:])
    if c == '"':
        if len(tok) == 1 or tok[-1] != '"':
            raise _Syntax("unterminated string", 0)
        if _odd_escape(tok):
            raise _Unsupported(tok)
        s = json.loads(tok, strict=False)
        if "\x00" in s:
            raise _Unsupported(tok)
        # Punctuation is escaped so that the separator clean-ups never touch a string.
        return json.dumps(s).translate(_ESCAPE_PUNCTUATION)
    if c.isdigit() or (c in "-+" and tok[1:2].isdigit()):
        return tok  # json.loads validates; EDN-only forms send us to the slow scan
    raise _Unsupported(tok)  # symbol, tag, character, ##Inf ...


def _build(x: list[Any]) -> list[Any]:
    """Replace the framed collections inside a decoded JSON array by their values."""
    if list in map(type, x):
        for i, v in enumerate(x):
            if v.__class__ is list:
                x[i] = _collection(v)
    return x


def _collection(x: list[Any]) -> Any:
    """The value of one framed collection (a vector has no frame)."""
    head = x[0] if x else None
    last = x[-1] if x else None
    if head.__class__ is str and head in _OPENERS:
        if head == _MAP:
            return _map(x)
        if head == _LIST:
            if last != _LIST_END:
                raise _Syntax("mismatched brackets", 0)
            return _build(x[1:-1])
        if last != _MAP_END:
            raise _Syntax("mismatched brackets", 0)
        return frozenset(map(_hashable, _build(x[1:-1])))
    if last.__class__ is str and last[:1] == "\x00":
        raise _Syntax("mismatched brackets", 0)
    return _build(x)


def _map(x: list[Any]) -> dict[Any, Any]:
    """The dict for a framed map ``[MAP, k1, v1, ..., MAP_END]``."""
    if x[-1] != _MAP_END or len(x) % 2:
        raise _Syntax("mismatched brackets or a map with an odd number of forms", 0)
    keys = x[1:-1:2]
    values = x[2:-1:2]
    if list in map(type, values):
        values = [_collection(v) if v.__class__ is list else v for v in values]
    if list in map(type, keys):
        keys = [_hashable(_collection(k)) if k.__class__ is list else k for k in keys]
    d = dict(zip(keys, values, strict=True))
    if len(d) != len(values):
        raise _Syntax("a map has the same key twice", 0)
    return d


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(e) for e in v)
    if isinstance(v, dict):
        return tuple((k, _hashable(e)) for k, e in v.items())
    return v


# ---------------------------------------------------------------------------
# Reference reader (edn_format), for what the fast path leaves out.


def parse_reference(text: str, *, source: str = "<string>") -> list[Any]:
    """Every top-level form, read by ``edn_format`` and made plain like the fast path."""
    import edn_format  # slow to import and to run: only when needed

    try:
        forms = edn_format.loads_all(text)
    except Exception as e:  # edn_format raises several unrelated exception types
        at = re.search(r"lexpos (\d+)", str(e))
        line = text.count("\n", 0, int(at.group(1))) + 1 if at else None
        problem = " ".join(str(e).split())  # one line: edn_format quotes the text around
        problem = problem if len(problem) <= 200 else problem[:197] + "..."
        raise HistoryError(f"invalid EDN: {problem}", source=source, line=line) from None
    try:
        return [plain(f) for f in forms]
    except RecursionError as e:  # scan_forms finds it first, with a line
        raise HistoryError(f"invalid EDN: {e}", source=source) from None


def plain(v: Any) -> Any:
    """An ``edn_format`` value as the plain value the fast path would give."""
    import edn_format

    if isinstance(v, (edn_format.Keyword, edn_format.Symbol)):
        return v.name
    if isinstance(v, edn_format.Char):
        return str(v)
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, (dict, edn_format.ImmutableDict)):
        return {_hashable(plain(k)): plain(e) for k, e in v.items()}
    if isinstance(v, (frozenset, set)):
        return frozenset(_hashable(plain(e)) for e in v)
    if isinstance(v, (list, tuple, edn_format.ImmutableList)):
        return [plain(e) for e in v]
    return v  # datetime, UUID, Decimal, Fraction, TaggedElement


# ---------------------------------------------------------------------------
# Positions: a slower scan that knows where every form starts.

_SCAN = re.compile(
    r"""(?:[\s,]+|;[^\n]*)*+
    (?: (?P<str>"[^"\\]*(?:\\[\s\S][^"\\]*)*")
      | (?P<open>\#\{|[\[({])
      | (?P<close>[\])}])
      | (?P<quote>")
      | (?P<atom>[^\s,\[\](){}";]+)
      | (?P<end>\Z) )""",
    re.VERBOSE,
)
_PAIRS = {"[": "]", "(": ")", "{": "}", "#{": "}"}


#: Collections open at once: the history's vector, an op map, and MAX_DEPTH levels of value.
_MAX_OPEN = MAX_DEPTH + 2


def scan_forms(text: str, *, keep_going: bool = False) -> tuple[list[int], list[int]]:
    """Start offsets of the top-level forms and of the elements of top-level collections.

    Raises _Syntax at the first structural or lexical error, integer over
    the digit limit or too deep a nesting, and _Unsupported at the first
    construct the fast path does not translate. With ``keep_going`` it scans
    on past such a construct, still raising _Syntax for a long integer or
    deep nesting (the reference reader would crash on those) but
    _Unsupported for a later syntax error, which the reference reader
    reports in its own words.
    """
    top: list[int] = []
    second: list[int] = []
    deferred = False  # an unsupported construct was seen (keep_going)

    def syntax(problem: str, offset: int) -> Exception:
        return _Unsupported(problem) if deferred else _Syntax(problem, offset)

    # Each frame: [opening token, offset, number of forms so far]
    stack: list[list[Any]] = []
    pos = 0
    match = _SCAN.match
    while True:
        m = match(text, pos)
        assert m is not None  # the \Z branch always matches at the end
        kind = m.lastgroup
        start = m.start(kind) if kind else m.end()
        pos = m.end()
        if kind == "end":
            if stack:
                raise syntax(f"{stack[-1][0]} opened here is never closed", stack[-1][1])
            return top, second
        if kind == "close":
            if not stack:
                raise syntax(f"{m.group(kind)} closes nothing", start)
            opener, at, count = stack.pop()
            if _PAIRS[opener] != m.group(kind):
                raise syntax(f"{opener} opened at offset {at} is closed by {m.group(kind)}", start)
            if opener == "{" and count % 2:
                raise syntax("a map needs an even number of forms (key value pairs)", at)
            continue
        if kind == "quote":
            raise syntax("unterminated string", start)
        if kind == "atom" and m.group(kind)[:1] == "#" and m.group(kind)[:2] != "##":
            # A tag belongs to the form after it; #_ discards that form, which
            # only the reference reader follows.
            if not keep_going or m.group(kind)[:2] == "#_":
                raise _Unsupported(m.group(kind))
            deferred = True
            continue
        # A form starts here.
        if not stack:
            top.append(start)
        elif len(stack) == 1:
            second.append(start)
        if stack:
            stack[-1][2] += 1
        if kind == "open":
            if len(stack) >= _MAX_OPEN:
                raise _Syntax(f"nested more than {MAX_DEPTH} levels deep", start)
            stack.append([m.group(kind), start, 0])
        elif kind == "atom":
            tok = m.group(kind)
            problem = check_number_token(tok)
            if problem:
                raise _Syntax(problem, start)
            try:
                _check_atom(tok, start)
            except _Unsupported:
                if not keep_going:
                    raise
                deferred = True
            except _Syntax:
                if deferred:
                    raise _Unsupported(tok) from None
                raise
        elif kind == "str" and _odd_escape(m.group(kind)):
            if not keep_going:
                raise _Unsupported(m.group(kind))
            deferred = True


def _check_atom(tok: str, at: int) -> None:
    c = tok[0]
    if c == ":":
        if len(tok) == 1:
            raise _Syntax("a lone ':' is not a keyword", at)
        return
    if tok in ("nil", "true", "false"):
        return
    if c.isdigit() or (c in "-+" and tok[1:2].isdigit()):
        if _JSON_NUMBER.fullmatch(tok):
            return
        if _EDN_ONLY_NUMBER.fullmatch(tok):
            raise _Unsupported(tok)
        raise _Syntax(f"{tok!r} is not a number", at)
    raise _Unsupported(tok)


def form_lines(text: str) -> tuple[list[int], list[int]]:
    """Line numbers of the top-level forms and of the elements of top-level collections."""
    try:
        top, second = scan_forms(text)
    except (_Unsupported, _Syntax):
        return _approximate_lines(text)
    return offsets_to_lines(text, top), offsets_to_lines(text, second)


def _approximate_lines(text: str) -> tuple[list[int], list[int]]:
    """Lines that open a map: entry lines for texts only edn_format reads (tags, symbols).

    Good for the usual one-op-per-line files; a map nested at the start of a
    line would shift the numbers, which only affects error messages.
    """
    starts = [m.start() for m in re.finditer(r"^[\s,\[(]*\{", text, re.M)]
    lines = offsets_to_lines(text, starts)
    return lines, lines
