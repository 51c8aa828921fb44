"""The pipeline's scenarios: one named fault schedule per bug flag it exposes.

Each is the acceptance case of the seed (001) as a schedule that repeats for
the whole main phase: the fault that makes a missing mechanism visible,
aimed where it hurts (the leader, a key's replicas), with what the report
shows as proof. Times assume the pipeline's defaults (a 2 s leader lease).
"""

from __future__ import annotations

from typing import Any

from harness.targets.base import Scenario

LEADER = {"role": "leader"}

SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "paused-leader",
            "the leader takes its token for `ship` and stalls there; it is paused past its lease, "
            "a new leader takes over (compensating the orders cancelled meanwhile), and the old "
            "one, awake but no longer leading, sends its stale step when its stall ends",
            "orders",
            # The leader's saga workers alternate with its event consumer: it creates a
            # batch of sagas, then drives them. Armed for 0.6 s, the stall could fall
            # between two drive phases and catch no `ship` at all (seeds 2000, 2001).
            round=(
                ("stall", "start", LEADER),
                1.5,
                ("pause", "start", LEADER),
                # Past the 2 s lease: a new leader takes over and drives the sagas the old
                # one held, cancelled ones through compensation (cancel-ship, not ship).
                4.0,
                ("pause", "stop", None),
                # The old leader's workers are still in their 8 s stall: their stale `ship`
                # calls arrive after the new leader has written to every shipping ledger.
                4.0,
                ("stall", "stop", None),
                2.0,
            ),
            # Before the first round: a leader elected and sagas reaching `ship`.
            lead_in=3.0,
            exposes={"fence-after-write": "stale-fenced-write"},
            proof="fencing: every stale token rejected (`rejected token T < H for ship:order-…` in the "
            "shipping service's log) and the new leader's ledger rows intact; with fence-after-write "
            "the stale write lands and is a stale-fenced-write",
            options={"stall": {"service": "saga", "op": "ship", "seconds": 8.0, "count": 0}},
            defaults={"rate": 60.0},
        ),
        Scenario(
            "lost-response",
            "refund responses are lost after the refund is applied, so the saga retries the refund",
            "orders",
            round=(1.5, ("lost-response", "start", None), 3.0, ("lost-response", "stop", None)),
            exposes={"refund-without-key": "duplicate-effect"},
            proof="effects: one refund row per cancelled order although payment saw the refund twice "
            "(duplicate-key hits); with refund-without-key two refund rows, a duplicate-effect",
            options={"lost-response": {"service": "payment", "op": "refund", "count": 0}},
        ),
        Scenario(
            "retry-storm",
            "payment refuses every charge for a while; callers retry",
            "orders",
            round=(2.0, ("down", "start", None), 8.0, ("down", "stop", None)),
            exposes={"naive-retry": "retry-amplification"},
            proof="signals: the retries-vs-first-attempts graph stays under the retry budget; with "
            "naive-retry retries multiply and are a retry-amplification",
            options={"down": {"service": "payment", "op": "charge", "count": 0}},
        ),
        Scenario(
            "wall-clock-order",
            "the leader's wall clock runs 30 s ahead, then it is paused so a node with a true clock "
            "takes over mid-saga",
            "orders",
            round=(
                1.0,
                ("clock", "start", {**LEADER, "seconds": 30}),
                3.0,
                ("pause", "start", LEADER),
                5.0,
                ("pause", "stop", None),
                1.0,
                ("clock", "stop", None),
            ),
            exposes={"wall-clock-order": "causal-inversion"},
            proof="causal: saga steps ordered by HLC despite the skew (the report shows the wall-clock "
            "contrast); with wall-clock-order a later step is stamped earlier, a causal-inversion",
        ),
        Scenario(
            "commit-before-effect",
            "the event consumer's process dies at the point between committing an offset and "
            "applying the event, and is restarted",
            "orders",
            # Aimed at the leader: armed everywhere, each new leader would crash in turn.
            round=(2.0, ("crash", "start", LEADER), 4.0, ("crash", "stop", None)),
            exposes={"commit-before-effect": "lost-effect"},
            proof="effects: every placed order reaches a final state (the event is redelivered after "
            "the crash); with commit-before-effect the event is skipped, a lost-effect",
            options={"crash": {"service": "events", "op": "consume", "count": 1}},
        ),
        Scenario(
            "slow-replica",
            "replicas stall 2 s before applying the writes they are sent, so each write sits on its "
            "coordinator alone while clients, who give up on a write after 0.4 s, go on reading few "
            "keys through every node; then that coordinator (the home replica of a key in use) is "
            "paused, and reads must do without it",
            "register",
            round=(
                0.5,
                ("stall", "start", None),
                1.0,
                ("pause", "start", None),
                1.5,
                ("pause", "stop", None),
                0.5,
                ("stall", "stop", None),
            ),
            exposes={"weak-quorum": "weak-quorum-config", "no-write-back": "nonlinearizable"},
            proof="quorum: R+W > N and no read older than an acknowledged write; with weak-quorum the "
            "lint fails and stale reads appear; with no-write-back a later read goes back in time "
            "(a read that saw a write, then one that did not: nonlinearizable)",
            options={"stall": {"service": "store", "op": "replica-put", "seconds": 2.0, "count": 0},
                     "pause": {"target": "home"}},
            # Writes queue on their key's lock behind the stall. A client that waited them out
            # would stop reading within a second, leaving no read to see the pause; with a short
            # op timeout it records the write as info and reads on. Many clients, so reads
            # overlap the writes (values are unique, so timed-out writes hide no stale read).
            defaults={"keys": 2, "rate": 200.0, "concurrency": 30, "op_timeout": 0.5},
        ),
        Scenario(
            "combined",
            "two faults at once, again and again: a paused leader during packet loss, a partition "
            "during a lost refund response",
            "orders",
            round=(
                2.0,
                ("loss", "start", None),
                1.0,
                ("pause", "start", LEADER),
                4.0,
                ("pause", "stop", None),
                ("loss", "stop", None),
                2.0,
                ("partition", "start", None),
                1.0,
                ("lost-response", "start", None),
                4.0,
                ("lost-response", "stop", None),
                ("partition", "stop", None),
            ),
            exposes={},
            proof="effects: no double and no lost effect, every order settled, over a sustained run "
            "with two faults active at once",
            options={"lost-response": {"service": "payment", "op": "refund", "count": 0}},
            defaults={"time_limit": 60.0},
        ),
    )
}


#: Between two scenarios of the nightly round: a random node killed, then restarted.
KILL_BREAK = (("kill", "start", None), 2.0, ("kill", "stop", None), 1.0)

#: Load without faults before the nightly round's first part (its lead-in): the nightly
#: round runs each part once a cycle, and paused-leader's stall at 2 s found no saga at
#: `ship` yet (fence-after-write missed in 1 of 1 nightly runs, caught 3 of 3 under its scenario).
WARM_UP = 4.0


def nightly(workload: str, parts: list[Scenario]) -> Scenario:
    """Every scenario of ``workload`` in turn after a warm-up, with a random node killed between two:
    the schedule a nightly run should exercise, so each bug flag meets the fault that
    exposes it at least once a cycle (``--time-limit`` at the default covers one).

    Scenarios are composed as written: their rounds in order, their options merged.
    Two scenarios that set one fault's options differently cannot share a round, and
    composing them is refused here rather than quietly running one of them wrongly."""
    steps: list[Any] = []
    options: dict[str, dict[str, Any]] = {}
    for s in parts:
        for fault, opts in s.options.items():
            if options.setdefault(fault, dict(opts)) != dict(opts):
                raise ValueError(f"nightly {workload}: scenario {s.name} sets {fault} options {dict(opts)}, "
                                 f"another one {options[fault]}; give them one setting")
        steps += [*s.round, *KILL_BREAK]
    cycle = WARM_UP + sum(float(step) for step in steps if not isinstance(step, tuple))
    rate = max((float(s.defaults.get("rate", 0)) for s in parts), default=0.0)
    defaults: dict[str, Any] = {"time_limit": max(30, round(cycle + 5.0))}
    if rate:
        defaults["rate"] = rate
    for s in parts:
        defaults.update({k: v for k, v in s.defaults.items() if k not in ("time_limit", "rate")})
    return Scenario(
        f"nightly-{workload}",
        f"{WARM_UP:g} s of load, then every {workload} scenario in turn ({', '.join(s.name for s in parts)}), a random node "
        f"killed between two; one cycle is about {cycle:.0f} s",
        workload,
        round=tuple(steps),
        exposes={flag: kind for s in parts for flag, kind in s.exposes.items()},
        proof="each part's proof (see those scenarios); a clean pipeline stays VALID through all of them",
        options=options,
        defaults=defaults,
        lead_in=WARM_UP,
    )


for _workload in sorted({s.workload for s in SCENARIOS.values()}):
    _night = nightly(_workload, [s for s in SCENARIOS.values() if s.workload == _workload])
    SCENARIOS[_night.name] = _night
