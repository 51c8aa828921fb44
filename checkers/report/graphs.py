"""The run's PNG graphs: latency, rate, seam signals, retry traffic.

Each graph is one function of ``RunData`` (see ``render``) and a path;
every graph shades the fault intervals the nemesis recorded, in one colour
per fault (``Band.colour``: from the run's test.json, see ``model.fault_colour``), so "what broke when" reads straight off the picture. A graph
with nothing to draw is not written: ``render_all`` says why in
``data.notes`` instead of producing an empty image.

The signals dashboard and the retry graph read the scraped
``nodes/<node>/metrics.jsonl`` (the target's observer, e.g. the pipeline's scraper); the names of
the metrics they draw are in ``SIGNALS`` and ``RETRY_GAUGES``, the single
place that knows the target's metric names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.report.model import Band, Pair, RunData, signal_stats

__all__ = ["RETRY_GAUGES", "SIGNALS", "render_all"]

TYPE_COLORS = {"ok": "#2a9d41", "fail": "#d62728", "info": "#ff9f1c", "open": "#7f7f7f"}
#: Points per scatter series above which the series is thinned (drawing 1M points helps nobody).
MAX_POINTS = 100_000
DPI = 100


@dataclass(frozen=True)
class Signal:
    """One panel of the signals dashboard: how to read it from a metrics snapshot."""

    title: str
    unit: str
    read: Callable[[dict[str, Any]], float | None]
    step: bool = False
    #: the signals checker's threshold name for this panel, and the factor to this panel's unit
    threshold: str | None = None
    scale: float = 1.0


def _gauge(name: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda m: _num((m.get("gauges") or {}).get(name))


def _counter(name: str) -> Callable[[dict[str, Any]], float | None]:
    # A counter never incremented is absent from the snapshot: that is a 0, not a gap.
    return lambda m: _num((m.get("counters") or {}).get(name, 0))


def _p99_ms(name: str) -> Callable[[dict[str, Any]], float | None]:
    def read(m: dict[str, Any]) -> float | None:
        h = (m.get("histograms") or {}).get(name)
        v = _num(h.get("p99")) if isinstance(h, dict) else None
        return None if v is None else v * 1000

    return read


def _max_labelled(name: str) -> Callable[[dict[str, Any]], float | None]:
    """The largest of ``name{...}`` over all labels (the worst downstream's budget)."""

    def read(m: dict[str, Any]) -> float | None:
        found = [
            _num(v)
            for k, v in (m.get("gauges") or {}).items()
            if k == name or k.startswith(name + "{")
        ]
        values = [v for v in found if v is not None]
        return max(values) if values else None

    return read


#: The seam signals (DESIGN: consumer lag, quorum p99s, leader churn, retry budget, duplicate keys).
SIGNALS: list[Signal] = [
    Signal("consumer lag", "events", _gauge("consumer_lag"), threshold="consumer_lag"),
    Signal(
        "quorum write p99",
        "ms",
        _p99_ms("store_write_seconds"),
        threshold="quorum_write_p99",
        scale=1000,
    ),
    Signal(
        "quorum read p99",
        "ms",
        _p99_ms("store_read_seconds"),
        threshold="quorum_read_p99",
        scale=1000,
    ),
    Signal("leader churn (election term)", "term", _gauge("election_term"), step=True),
    Signal(
        "retry budget used (worst downstream)",
        "%",
        _max_labelled("retry_budget_used_percent"),
        threshold="retry_budget",
    ),
    Signal("duplicate-key hits", "hits", _counter("duplicate_key_hits"), step=True),
]

#: Cumulative gauges of the target's retrier, drawn as per-second rates on retries.png.
RETRY_GAUGES = {
    "first attempts": "retry_first_attempts",
    "retries": "retry_retries",
    "shed retries": "retry_shed_retries",
}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


# ---------------------------------------------------------------------------
# matplotlib plumbing


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def shade_faults(ax: Any, bands: list[Band], horizon: float) -> None:
    """Shade every fault interval on ``ax``; a zero-length fault is a line."""
    for b in bands:
        color = b.colour
        end = b.end_or(horizon)
        if end - b.start < horizon / 1000:
            ax.axvline(b.start, color=color, alpha=0.6, lw=1.2, zorder=0)
        else:
            ax.axvspan(b.start, end, color=color, alpha=0.16, lw=0, zorder=0)


def _fault_legend(bands: list[Band]) -> list[Any]:
    from matplotlib.patches import Patch

    colours: dict[str, str] = {}
    for b in bands:
        colours.setdefault(b.kind, b.colour)
    return [Patch(color=c, alpha=0.35, label=k) for k, c in colours.items()]


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    _plt().close(fig)
    return path


def _thin(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= MAX_POINTS:
        return xs, ys
    step = len(xs) // MAX_POINTS + 1
    return xs[::step], ys[::step]


# ---------------------------------------------------------------------------
# the graphs


def latency(pairs: list[Pair], bands: list[Band], horizon: float, path: Path) -> Path:
    """Latency of every completed call, one panel per op type, coloured ok/fail/info."""
    plt = _plt()
    fs = sorted({p.f for p in pairs if p.latency is not None})
    fig, axes = plt.subplots(
        len(fs), 1, figsize=(11, 2.4 * len(fs) + 0.9), sharex=True, squeeze=False
    )
    for ax, f in zip(axes[:, 0], fs, strict=True):
        shade_faults(ax, bands, horizon)
        for typ in ("ok", "fail", "info"):
            got = [
                (p.start, p.latency * 1000)
                for p in pairs
                if p.f == f and p.type == typ and p.latency is not None
            ]
            if not got:
                continue
            xs, ys = _thin([x for x, _ in got], [max(y, 1e-3) for _, y in got])
            ax.scatter(
                xs,
                ys,
                s=6,
                color=TYPE_COLORS[typ],
                label=f"{typ} ({len(got)})",
                alpha=0.7,
                lw=0,
                rasterized=True,
            )
        ax.set_yscale("log")
        ax.set_ylabel(f"{f}\nlatency (ms)")
        ax.legend(loc="upper left", fontsize=8, ncol=3, framealpha=0.8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time since the run began (s)")
    axes[-1, 0].set_xlim(0, horizon)
    _title(fig, "Latency by operation (shaded: faults)", bands)
    return _save(fig, path)


def _rate_series(pairs: list[Pair], width: float) -> dict[tuple[str, str], dict[int, int]]:
    buckets: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for p in pairs:
        if p.end is not None:
            buckets[(p.f, p.type)][int(p.end // width)] += 1
    return buckets


def rate(pairs: list[Pair], bands: list[Band], horizon: float, path: Path) -> Path:
    """Completions per second, one line per (op type, outcome)."""
    plt = _plt()
    width = max(1.0, horizon / 300)  # at most ~300 buckets, never finer than 1 s
    n = int(horizon // width) + 1
    fig, ax = plt.subplots(figsize=(12, 3.8))
    shade_faults(ax, bands, horizon)
    styles = {"ok": "-", "fail": "--", "info": ":"}
    palette = plt.get_cmap("tab10")
    fs = sorted({f for f, _ in _rate_series(pairs, width)})
    for (f, typ), counts in sorted(_rate_series(pairs, width).items()):
        xs = [i * width for i in range(n)]
        ys = [counts.get(i, 0) / width for i in range(n)]
        ax.plot(
            xs,
            ys,
            styles.get(typ, "-"),
            color=palette(fs.index(f) % 10),
            lw=1.3,
            label=f"{f} {typ}",
            drawstyle="steps-post",
        )
    ax.set_xlim(0, horizon)
    ax.set_xlabel("time since the run began (s)")
    ax.set_ylabel(f"completions / s ({width:g} s buckets)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    _title(fig, "Throughput by operation and outcome", bands)
    return _save(fig, path)


def signal_series(
    metrics: dict[str, list[dict[str, Any]]], read: Callable[[dict[str, Any]], float | None]
) -> dict[str, tuple[list[float], list[float]]]:
    """Per node, (times, values) of one signal. A scrape that failed is a NaN, so the
    line breaks where the node did not answer; a node that never reported it is absent."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for node, rows in metrics.items():
        xs: list[float] = []
        ys: list[float] = []
        for r in rows:
            t, m = _num(r.get("time")), r.get("metrics")
            v = read(m) if isinstance(m, dict) else None
            if t is not None and (v is not None or "error" in r):
                xs.append(t)
                ys.append(float("nan") if v is None else v)
        if any(y == y for y in ys):  # at least one real value (NaN != NaN)
            out[node] = (xs, ys)
    return out


def _down_times(metrics: dict[str, list[dict[str, Any]]]) -> dict[str, list[float]]:
    return {
        node: [float(r["time"]) for r in rows if "error" in r and _num(r.get("time")) is not None]
        for node, rows in metrics.items()
    }


def signals(
    metrics: dict[str, list[dict[str, Any]]],
    bands: list[Band],
    horizon: float,
    path: Path,
    thresholds: dict[str, Any] | None = None,
) -> Path:
    """The seam-signals dashboard: one panel per ``SIGNALS`` entry, one line per node,
    and the signals checker's threshold (from results.json) as a dashed line."""
    plt = _plt()
    nodes = sorted(metrics)
    palette = plt.get_cmap("tab10")
    fig, axes = plt.subplots(3, 2, figsize=(12, 8.2), sharex=True)
    down = _down_times(metrics)
    for ax, sig in zip(axes.flat, SIGNALS, strict=True):
        shade_faults(ax, bands, horizon)
        series = signal_series(metrics, sig.read)
        for node in nodes:
            if node in series:
                xs, ys = series[node]
                ax.plot(
                    xs,
                    ys,
                    lw=1.2,
                    color=palette(nodes.index(node) % 10),
                    label=node,
                    drawstyle="steps-post" if sig.step else "default",
                )
            if down.get(node):
                ax.plot(
                    down[node],
                    [0] * len(down[node]),
                    "x",
                    ms=4,
                    color=palette(nodes.index(node) % 10),
                    alpha=0.7,
                )
        if not series:
            ax.text(
                0.5,
                0.5,
                "not reported by any node",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#888",
            )
        values = [y for _, ys in series.values() for y in ys if y == y]
        limit = _num((thresholds or {}).get(sig.threshold or ""))
        if limit is not None:
            ax.axhline(limit * sig.scale, color="#c0392b", ls="--", lw=0.9, label="threshold")
            values.append(limit * sig.scale)
        if values and min(values) >= 0:  # counts, lags and latencies: the axis starts at 0
            ax.set_ylim(0, max(values) * 1.08 or 1.0)
        ax.set_title(sig.title, fontsize=10)
        ax.set_ylabel(sig.unit)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("time since the run began (s)")
        ax.set_xlim(0, horizon)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in axes.flat[1:]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    handles += _fault_legend(bands)
    labels += [h.get_label() for h in _fault_legend(bands)]
    fig.legend(handles, labels, loc="upper right", fontsize=8, ncol=min(8, len(labels) or 1))
    fig.suptitle(
        "Seam signals per node (x on the axis: /metrics did not answer)",
        x=0.01,
        ha="left",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, path)


def retry_rates(metrics: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, float]]:
    """Cluster-wide per-second rates of each ``RETRY_GAUGES`` counter, by whole second.

    The gauges are cumulative per node process: a drop means the node
    restarted, so the new value itself is the increase.
    """
    rates: dict[str, dict[int, float]] = {label: defaultdict(float) for label in RETRY_GAUGES}
    for rows in metrics.values():
        last: dict[str, tuple[float, float]] = {}
        for r in rows:
            m, t = r.get("metrics"), _num(r.get("time"))
            if not isinstance(m, dict) or t is None:
                continue
            for label, name in RETRY_GAUGES.items():
                v = _num((m.get("gauges") or {}).get(name))
                if v is None:
                    continue
                if label in last:
                    t0, v0 = last[label]
                    rates[label][int(t)] += (v - v0 if v >= v0 else v) / max(t - t0, 1e-3)
                last[label] = (t, v)
    return rates


def retries(
    metrics: dict[str, list[dict[str, Any]]], bands: list[Band], horizon: float, path: Path
) -> Path:
    """Retry traffic against first attempts, and their ratio (retry amplification)."""
    plt = _plt()
    rates = retry_rates(metrics)
    seconds = sorted({s for r in rates.values() for s in r})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.2), sharex=True, height_ratios=(2, 1))
    colors = {"first attempts": "#4e79a7", "retries": "#e15759", "shed retries": "#9c755f"}
    for ax in (top, bottom):
        shade_faults(ax, bands, horizon)
        ax.grid(alpha=0.3)
    for label, series in rates.items():
        top.plot(
            seconds,
            [series.get(s, 0.0) for s in seconds],
            lw=1.4,
            color=colors[label],
            label=label,
            drawstyle="steps-post",
        )
    ratio = [
        rates["retries"].get(s, 0.0) / rates["first attempts"][s]
        if rates["first attempts"].get(s)
        else float("nan")
        for s in seconds
    ]
    bottom.plot(seconds, ratio, color="#e15759", lw=1.2, drawstyle="steps-post")
    bottom.axhline(1.0, color="#555", lw=0.8, ls="--")
    top.set_ylabel("calls / s (all nodes)")
    top.legend(loc="upper left", fontsize=8, ncol=3)
    bottom.set_ylabel("retries per\nfirst attempt")
    bottom.set_xlabel("time since the run began (s)")
    bottom.set_xlim(0, horizon)
    _title(fig, "Retry traffic vs first attempts (downstream calls made by the nodes)", bands)
    return _save(fig, path)


def _title(fig: Any, text: str, bands: list[Band]) -> None:
    legend = _fault_legend(bands)
    if legend:
        fig.legend(
            handles=legend,
            loc="upper right",
            fontsize=8,
            ncol=len(legend),
            title="faults",
            title_fontsize=8,
        )
    fig.suptitle(text, x=0.01, ha="left", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if legend else 0.96))


def _has_retry_data(metrics: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether any scrape carried the retrier's gauges (a node without a retrier has none)."""
    return any(
        isinstance(r.get("metrics"), dict)
        and RETRY_GAUGES["first attempts"] in (r["metrics"].get("gauges") or {})
        for rows in metrics.values()
        for r in rows
    )


def render_all(data: RunData, out_dir: Path) -> list[Path]:
    """Write every graph there is data for into ``out_dir``; note the ones skipped and why."""
    horizon = data.horizon
    made: list[Path] = []
    if any(p.latency is not None for p in data.pairs):
        made.append(latency(data.pairs, data.bands, horizon, out_dir / "latency.png"))
        made.append(rate(data.pairs, data.bands, horizon, out_dir / "rate.png"))
    else:
        data.notes.append("no completed client operations: no latency or rate graph")
    if data.metrics:
        thresholds = signal_stats(data.results).get("thresholds")
        made.append(
            signals(
                data.metrics,
                data.bands,
                horizon,
                out_dir / "signals.png",
                thresholds if isinstance(thresholds, dict) else None,
            )
        )
        if _has_retry_data(data.metrics):
            made.append(retries(data.metrics, data.bands, horizon, out_dir / "retries.png"))
        else:
            data.notes.append("the nodes reported no retry gauges: no retry graph")
    return made
