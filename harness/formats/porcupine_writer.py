"""Write a history in Porcupine's test formats, so Porcupine can check it again.

The reverse of ``harness.formats.porcupine``, keeping its meaning:

* a register history (``read``, ``write``, ``cas`` with integer values)
  becomes a Jepsen etcd log, ``INFO  jepsen.util - P\\t:type\\t:f\\tvalue``.
  ``nil`` read means "empty", as in Seam; an unknown read is
  ``:fail :read :timed-out`` and an ``info`` completion ``:timed-out``, the
  lines Porcupine reads that way. A failed ``cas`` is written as it is:
  Porcupine's etcd model (Seam's ``etcd-register``) reads it as "the compare
  failed", while ``cas-register`` drops it; ``write_etcd_log`` says so.
* a kv history (``get``, ``put``, ``append`` with ``[key, value]`` values)
  becomes kv lines, ``{:process P, :type :T, :f :F, :key "K", :value V}``.

Neither format has a nemesis: nemesis ops are left out (they are never
calls) and counted in the notes. ``time`` is not written (Porcupine ignores
it). An op the format cannot hold raises ``HistoryError`` with its line.
"""

from __future__ import annotations

from typing import IO, Any

from harness.core.op import NEMESIS, History, Op
from harness.formats.edn_writer import edn_string, render_lines

KV_FUNCTIONS = frozenset(("get", "put", "append"))
ETCD_FUNCTIONS = frozenset(("read", "write", "cas"))


def is_kv(history: History) -> bool:
    """Whether the client ops are kv calls (then ``porcupine`` means kv lines)."""
    return any(op.f in KV_FUNCTIONS for op in history if op.process != NEMESIS)


def write_porcupine(history: History, fh: IO[str]) -> list[str]:
    """kv lines for a kv history, else an etcd log; returns notes for the user."""
    return (write_kv if is_kv(history) else write_etcd_log)(history, fh)


def write_etcd_log(history: History, fh: IO[str]) -> list[str]:
    """Write ``history`` as a Jepsen etcd log; nothing is written if an op does not fit."""
    client = _clients(history)
    lines, _ = render_lines(client, _etcd_line)
    fh.write("".join(line + "\n" for line in lines))
    notes = _dropped(history, client)
    failed = sum(1 for op in client if op.type == "fail" and op.f == "cas")
    if failed:
        notes.append(
            f"{failed} failed cas ops: Porcupine's etcd model reads one as 'the compare failed' "
            "(in Seam: --model etcd-register); cas-register takes it as never applied"
        )
    return notes


def write_kv(history: History, fh: IO[str]) -> list[str]:
    """Write ``history`` as Porcupine kv lines; nothing is written if an op does not fit."""
    client = _clients(history)
    lines, _ = render_lines(client, _kv_line)
    fh.write("".join(line + "\n" for line in lines))
    return _dropped(history, client)


def _clients(history: History) -> History:
    """The client ops, keeping their source lines for error messages."""
    keep = [pos for pos, op in enumerate(history) if op.process != NEMESIS]
    if len(keep) == len(history):
        return history
    lines = [history.line(pos) for pos in keep]
    return History([history[pos] for pos in keep], source=history.source, lines=lines)


def _dropped(history: History, client: History) -> list[str]:
    n = len(history) - len(client)
    return [f"{n} nemesis ops left out (the format has no nemesis)"] if n else []


def _process(op: Op) -> str:
    if not isinstance(op.process, int) or isinstance(op.process, bool) or op.process < 0:
        raise ValueError(f"process {op.process!r} is not a non-negative integer")
    return str(op.process)


def _etcd_line(op: Op) -> tuple[str, bool]:
    """One log line; the second item (a weakened read) is never set here."""
    if op.f not in ETCD_FUNCTIONS:
        raise ValueError(f"an etcd log has only read, write and cas, not {op.f!r}")
    typ = op.type
    if typ == "info":
        value = ":timed-out"
    elif op.f == "read":
        if typ == "invoke":
            value = "nil"
        elif op.unknown or typ == "fail":  # nobody saw the result: it constrains nothing
            typ, value = "fail", ":timed-out"
        elif op.value is None or _is_int(op.value):
            value = "nil" if op.value is None else str(op.value)
        else:
            raise ValueError(f"an etcd read returns nil or an integer, got {op.value!r}")
    elif op.unknown:
        raise ValueError(f"an etcd log has no unknown {op.f} result")
    elif op.f == "write":
        if not _is_int(op.value):
            raise ValueError(f"an etcd write takes an integer, got {op.value!r}")
        value = str(op.value)
    else:
        v = op.value
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(map(_is_int, v))):
            raise ValueError(f"an etcd cas takes [A B] with two integers, got {v!r}")
        value = f"[{v[0]} {v[1]}]"
    return f"INFO  jepsen.util - {_process(op)}\t:{typ}\t:{op.f}\t{value}", False


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _kv_line(op: Op) -> tuple[str, bool]:
    if op.f not in KV_FUNCTIONS:
        raise ValueError(f"kv lines have only get, put and append, not {op.f!r}")
    if op.unknown:
        raise ValueError("kv lines have no unknown result")
    v = op.value
    if not (isinstance(v, (list, tuple)) and len(v) == 2):
        raise ValueError(f"kv values must be [key, value], got {v!r}")
    key, value = v
    if not isinstance(key, str) or not (value is None or isinstance(value, str)):
        raise ValueError(f"kv keys and values are strings (or a nil value), got {v!r}")
    shown = "nil" if value is None else edn_string(value)
    return (
        f"{{:process {_process(op)}, :type :{op.type}, :f :{op.f}, "
        f":key {edn_string(key)}, :value {shown}}}"
    ), False
