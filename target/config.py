"""node.json: parsed and validated once, at start-up.

A bad config stops the node with one line naming the key and the fix
(``SystemExit``), because a node that guesses would make every later failure
harder to read. Every key but ``node``, ``port`` and ``peers`` has a default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from target.bugs import KNOWN, UnknownBug

SERVICES = ("order", "payment", "inventory", "shipping", "events", "saga", "faults")


@dataclass(frozen=True)
class Replication:
    n: int = 3
    w: int = 2
    r: int = 2


@dataclass(frozen=True)
class RetryConfig:
    base: float = 0.05
    cap: float = 1.0
    attempts: int = 5
    budget_ratio: float = 0.1
    budget_floor: float = 10
    breaker_failures: int = 5
    breaker_reset: float = 2.0
    naive_delay: float = 1.0  # the naive-retry bug's fixed delay (seed snippet 4)
    naive_attempts: int = 6


#: Inventory consistency modes (``inventory.mode``): see target/stock.py.
INVENTORY_MODES = ("eventual", "linearizable")


@dataclass(frozen=True)
class InventoryConfig:
    """Stock per sku (0: unlimited, the behaviour before stock existed), how stock is kept
    (``mode``), and how often an eventual node pushes its holds to its peers."""

    mode: str = "eventual"
    stock: int = 0
    sync_seconds: float = 1.0


@dataclass(frozen=True)
class Config:
    node: str
    port: int
    peers: dict[str, str]
    host: str = "127.0.0.1"
    data_dir: str = "."
    replication: Replication = field(default_factory=Replication)
    lease_seconds: float = 2.0
    request_timeout: float = 1.0
    retry: RetryConfig = field(default_factory=RetryConfig)
    bugs: tuple[str, ...] = ()
    admin_secret: str = ""
    log: str = "node.log"
    seed: int = 1
    roles: tuple[str, ...] = SERVICES
    # Send to peers from ``host`` (local clusters: each node's own 127.0.0.x, so
    # partition rules that name nodes by address match). Off: the kernel's choice.
    bind_source: bool = False
    inventory: InventoryConfig = field(default_factory=InventoryConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bugs"] = list(self.bugs)
        d["roles"] = list(self.roles)
        return d


class ConfigInvalid(SystemExit):
    """A config problem: exits the node with a one-line message naming the key."""

    def __init__(self, source: str, key: str, problem: str):
        self.key = key
        super().__init__(f"{source}: key {key!r}: {problem}")


def load(path: str | Path) -> Config:
    """Read node.json; a missing or malformed file exits with a message naming it."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except OSError as e:
        raise SystemExit(f"{p}: cannot read config: {e.strerror}; pass --config PATH to node.json") from e
    except json.JSONDecodeError as e:
        raise SystemExit(f"{p}:{e.lineno}: config is not valid JSON: {e.msg}") from e
    return from_dict(raw, source=str(p))


def _num(source: str, key: str, value: Any, kind: type, minimum: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigInvalid(source, key, f"expected a number, got {value!r}")
    if kind is int and value != int(value):
        raise ConfigInvalid(source, key, f"expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigInvalid(source, key, f"must be >= {minimum}, got {value!r}")
    return kind(value)


def _section(source: str, name: str, raw: Any, cls: type) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigInvalid(source, name, f"expected an object, got {raw!r}")
    defaults = cls()
    values = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise ConfigInvalid(source, f"{name}.{key}", "unknown key")
        default = getattr(defaults, key)
        kind = int if isinstance(default, int) and not isinstance(default, bool) else float
        if key == "budget_floor":
            kind = float
        values[key] = _num(source, f"{name}.{key}", value, kind, 0)
    return cls(**values)


def _peers(source: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigInvalid(source, "peers", "expected a non-empty object {name: url}")
    for name, url in raw.items():
        if not isinstance(url, str) or not url.startswith("http://"):
            raise ConfigInvalid(source, f"peers.{name}", f"expected an http:// URL, got {url!r}")
    return {name: url.rstrip("/") for name, url in sorted(raw.items())}


def _names(source: str, key: str, raw: Any, allowed: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigInvalid(source, key, f"expected a list of strings, got {raw!r}")
    for x in raw:
        if x not in allowed:
            raise ConfigInvalid(source, key, f"unknown name {x!r}; known: {', '.join(sorted(allowed))}")
    return tuple(raw)


def from_dict(raw: Any, *, source: str = "node.json") -> Config:
    """Validate a decoded node.json; every problem names its key."""
    if not isinstance(raw, dict):
        raise ConfigInvalid(source, "<root>", "expected a JSON object")
    allowed = set(Config.__dataclass_fields__)
    for key in raw:
        if key not in allowed:
            raise ConfigInvalid(source, key, f"unknown key; known keys: {', '.join(sorted(allowed))}")
    for key in ("node", "port", "peers"):
        if key not in raw:
            raise ConfigInvalid(source, key, "required key is missing")
    node = raw["node"]
    if not isinstance(node, str) or not node:
        raise ConfigInvalid(source, "node", f"expected a non-empty string, got {node!r}")
    peers = _peers(source, raw["peers"])
    if node not in peers:
        raise ConfigInvalid(source, "peers", f"must include this node {node!r}")
    port = _num(source, "port", raw["port"], int, 1)
    if port > 65535:
        raise ConfigInvalid(source, "port", f"must be <= 65535, got {port}")
    # Default replication adapts to small clusters: n = min(3, peers), majorities for w and r.
    repl_raw = raw.get("replication", {})
    if isinstance(repl_raw, dict):
        repl_raw = dict(repl_raw)
        n_default = min(3, len(peers))
        repl_raw.setdefault("n", n_default)
        n_val = repl_raw["n"] if isinstance(repl_raw["n"], int) else n_default
        repl_raw.setdefault("w", n_val // 2 + 1)
        repl_raw.setdefault("r", n_val // 2 + 1)
    repl = _section(source, "replication", repl_raw, Replication)
    if not 1 <= repl.n <= len(peers):
        raise ConfigInvalid(source, "replication.n", f"must be between 1 and {len(peers)} (the number of peers)")
    for k in ("w", "r"):
        if not 1 <= getattr(repl, k) <= repl.n:
            raise ConfigInvalid(source, f"replication.{k}", f"must be between 1 and n={repl.n}")
    try:
        bugs = _names(source, "bugs", raw.get("bugs", []), KNOWN)
    except UnknownBug as e:  # pragma: no cover - _names checks first
        raise ConfigInvalid(source, "bugs", str(e)) from e
    kw: dict[str, Any] = {
        "node": node,
        "port": port,
        "peers": peers,
        "replication": repl,
        "retry": _section(source, "retry", raw.get("retry"), RetryConfig),
        "bugs": bugs,
        "roles": _names(source, "roles", raw.get("roles", list(SERVICES)), SERVICES),
    }
    for key in ("host", "data_dir", "admin_secret", "log"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ConfigInvalid(source, key, f"expected a string, got {raw[key]!r}")
            kw[key] = raw[key]
    for key in ("lease_seconds", "request_timeout"):
        if key in raw:
            kw[key] = _num(source, key, raw[key], float, 0.01)
    if "seed" in raw:
        kw["seed"] = _num(source, "seed", raw["seed"], int, 0)
    if "bind_source" in raw:
        if not isinstance(raw["bind_source"], bool):
            raise ConfigInvalid(source, "bind_source", f"expected true or false, got {raw['bind_source']!r}")
        kw["bind_source"] = raw["bind_source"]
    if "inventory" in raw:
        kw["inventory"] = _inventory(source, raw["inventory"])
    return Config(**kw)


def _inventory(source: str, raw: Any) -> InventoryConfig:
    """``{"mode": "eventual"|"linearizable", "stock": units per sku, "sync_seconds": s}``."""
    if not isinstance(raw, dict):
        raise ConfigInvalid(source, "inventory", f"expected an object, got {raw!r}")
    unknown = set(raw) - set(InventoryConfig.__dataclass_fields__)
    if unknown:
        raise ConfigInvalid(source, f"inventory.{sorted(unknown)[0]}", "unknown key; known: mode, stock, sync_seconds")
    mode = raw.get("mode", "eventual")
    if mode not in INVENTORY_MODES:
        raise ConfigInvalid(source, "inventory.mode", f"expected one of {', '.join(INVENTORY_MODES)}, got {mode!r}")
    stock = _num(source, "inventory.stock", raw.get("stock", 0), int, 0)
    sync = _num(source, "inventory.sync_seconds", raw.get("sync_seconds", 1.0), float, 0.01)
    return InventoryConfig(mode=mode, stock=stock, sync_seconds=sync)
