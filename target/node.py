"""One node process: ``python3 -m target.node --config node.json``.

Builds the NodeContext and the Router, registers the infrastructure endpoints
(/health, /time, /metrics, store replica and /kv, election and /leader), then
each business module present in target/ and named in the config's roles,
serves on the config's host:port, and runs until SIGTERM/SIGINT, which shuts
down cleanly. The pid goes to <data_dir>/node.pid, the log to <data_dir>/<log>.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from target import config as config_mod
from target import pool
from target.bugs import Bugs
from target.context import NodeContext
from target.election import Election
from target.hlc import HLC
from target.httpserver import Server, serve
from target.metrics import Metrics
from target.retry import Retrier, RetryPolicy
from target.router import Request, Router
from target.store import StoreClient

BUSINESS = ("order", "payment", "inventory", "shipping", "events", "saga", "faults")

#: How often the main thread looks for SIGTERM/SIGINT: the longest a stop waits to begin.
STOP_POLL_S = 0.05


def make_logger(cfg: config_mod.Config, data_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"target.{cfg.node}")
    log.setLevel(logging.DEBUG if os.environ.get("SEAM_TARGET_DEBUG") else logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    handler = logging.FileHandler(data_dir / cfg.log)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {cfg.node} %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    return log


def build_context(cfg: config_mod.Config) -> NodeContext:
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    bugs = Bugs(cfg.bugs)
    metrics = Metrics()
    retrier = Retrier(RetryPolicy.from_config(cfg.retry, naive=bugs.on("naive-retry")))
    metrics.collector(retrier.gauges)
    ctx = NodeContext(
        config=cfg, node=cfg.node, data_dir=data_dir, hlc=HLC(cfg.node), bugs=bugs,
        metrics=metrics, log=make_logger(cfg, data_dir), retrier=retrier,
    )
    ctx.store = StoreClient(ctx)
    ctx.election = Election(ctx)
    return ctx


def _infra_routes(ctx: NodeContext, router: Router) -> None:
    started = time.time()

    def health(req: Request) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "node": ctx.node, "pid": os.getpid(), "uptime": time.time() - started,
                     "bugs": list(ctx.bugs), "roles": list(ctx.config.roles)}

    def now(req: Request) -> tuple[int, dict[str, Any]]:
        return 200, {"node": ctx.node, "wall": time.time(), "hlc": ctx.hlc.now().to_json()}

    def metrics(req: Request) -> tuple[int, Any]:
        if req.query.get("format") == "prometheus":
            return 200, ctx.metrics.prometheus()
        return 200, {"node": ctx.node, **ctx.metrics.snapshot()}

    router.add("GET", "/health", health)
    router.add("GET", "/time", now)
    router.add("GET", "/metrics", metrics)


def load_business(ctx: NodeContext) -> dict[str, ModuleType]:
    """Import each business module that exists and is in the config's roles."""
    modules = {}
    for name in BUSINESS:
        if name not in ctx.config.roles:
            continue
        try:
            modules[name] = importlib.import_module(f"target.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"target.{name}":
                raise  # the module exists but one of its imports is missing: a real error
            ctx.log.info("service %s not present in target/, skipped", name)
    return modules


def build(cfg: config_mod.Config) -> tuple[NodeContext, Router, dict[str, ModuleType]]:
    ctx = build_context(cfg)
    router = Router()
    _infra_routes(ctx, router)
    ctx.store.register(router)
    ctx.election.register(router)
    modules = load_business(ctx)
    for mod in modules.values():
        if hasattr(mod, "register"):
            mod.register(ctx, router)
    return ctx, router, modules


def run(cfg: config_mod.Config) -> int:
    ctx, router, modules = build(cfg)
    (ctx.data_dir / "node.pid").write_text(f"{os.getpid()}\n")
    # The handler only appends: it runs in the main thread between two bytecodes, maybe
    # inside Event.wait holding the event's lock, where Event.set() would wait for itself.
    signals: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if cfg.bind_source:
        pool.bind_source(cfg.host)  # peers (and partition rules) see this node's own address
    try:
        server: Server = serve(cfg.host, cfg.port, router, ctx.log)
    except OSError as e:
        ctx.log.error("cannot bind %s:%d: %s", cfg.host, cfg.port, e)
        print(f"{cfg.node}: cannot bind {cfg.host}:{cfg.port}: {e.strerror}; "
              f"pick a free port in the config", file=sys.stderr)
        return 3
    ctx.log.info("node %s serving on %s:%d pid %d bugs %s services %s", cfg.node, cfg.host, cfg.port,
                 os.getpid(), list(ctx.bugs), sorted(modules))
    ctx.election.start()
    if "saga" in modules and hasattr(modules["saga"], "start"):
        modules["saga"].start(ctx)
    while not signals:
        time.sleep(STOP_POLL_S)
    ctx.log.info("signal %d: shutting down", signals[0])
    ctx.stopping.set()
    ctx.election.stop()
    server.shutdown()
    server.server_close()
    ctx.store.close()
    ctx.log.info("node %s stopped cleanly", cfg.node)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m target.node", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="path to node.json")
    args = ap.parse_args(argv)
    cfg = config_mod.load(args.config)
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
