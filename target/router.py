"""What a handler sees and returns, and the router that picks the handler.

Handlers take a ``Request`` and return ``(status, dict)`` (or ``(status, str)``
for plain text). They may raise ``HTTPError`` to answer with a JSON error that
names the field, or ``DropConnection`` to close the socket without a reply
(the lost-response fault). Any other exception becomes a logged 500: nothing a
client sends may crash the node. ``Router.dispatch`` keeps those rules, so
handlers can be tested without a socket; ``httpserver`` puts them on the wire.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_MISSING = object()


class HTTPError(Exception):
    """Raise from a handler to answer ``{"error": message, "field": field}``."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class DropConnection(Exception):
    """Raise from a handler to close the connection without sending any reply."""


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    _json: Any = _MISSING

    @property
    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); 400 naming ``body`` otherwise."""
        if self._json is _MISSING:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = json.loads(self.body)
                except (ValueError, UnicodeDecodeError) as e:
                    raise HTTPError(400, f"malformed JSON body: {e}", "body") from e
                if not isinstance(self._json, dict):
                    raise HTTPError(400, "JSON body must be an object", "body")
        return self._json

    def field(self, name: str, kind: type | tuple[type, ...] = str, default: Any = _MISSING) -> Any:
        """A body field of the given type; 400 naming the field when missing or mistyped."""
        body = self.json
        if name not in body or body[name] is None:
            if default is _MISSING:
                raise HTTPError(400, f"missing field {name!r}", name)
            return default
        value = body[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise HTTPError(400, f"field {name!r} must be {_kind_names(kinds)}, got a boolean", name)
        if not isinstance(value, kinds):
            raise HTTPError(400, f"field {name!r} must be {_kind_names(kinds)}, got {type(value).__name__}", name)
        return value


def _kind_names(kinds: tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kinds)


Handler = Callable[[Request], "tuple[int, dict[str, Any] | str]"]


class Router:
    """Maps (method, path pattern) to handlers; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}"))
        for m, p, _, _ in self._routes:
            if m == method.upper() and p == pattern:
                raise ValueError(f"route {method} {pattern} registered twice")
        self._routes.append((method.upper(), pattern, re.compile(f"^{regex}$"), handler))

    def routes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self._routes]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for m, _, regex, handler in self._routes:
            match = regex.match(path)
            if match:
                if m == method:
                    return handler, {k: unquote(v) for k, v in match.groupdict().items()}
                allowed.append(m)
        if allowed:
            raise HTTPError(405, f"{method} not allowed on {path}; use {', '.join(sorted(set(allowed)))}")
        raise HTTPError(404, f"no such path {path}")

    def dispatch(self, req: Request, log: logging.Logger | None = None) -> tuple[int, dict[str, Any] | str]:
        """Run the handler; every failure but DropConnection becomes a JSON error."""
        try:
            handler, req.params = self.resolve(req.method, req.path)
            result = handler(req)
            if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int)):
                raise TypeError(f"handler for {req.method} {req.path} returned {result!r}, not (status, dict)")
            return result
        except HTTPError as e:
            return e.status, e.body()
        except DropConnection:
            raise
        except Exception as e:  # noqa: BLE001 - the node must survive any handler bug
            if log:
                log.exception("handler error on %s %s", req.method, req.path)
            return 500, {"error": f"internal error: {type(e).__name__}: {e}"}


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for replies and request bodies: ``to_json()``, sets sorted."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
