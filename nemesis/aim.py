"""Which node (and which of its processes) a fault aims at.

The ``target`` option of pause, kill and clock says it:

* ``random``: a node chosen by the seeded schedule, so the invoke in the
  history already names it;
* ``any``: each time, a seeded choice between a random node and each role the
  target declares;
* a role the target declares (``HasRoles.roles()``, e.g. ``leader``): the
  fault asks the target for that role's process; for ``leader`` the node is
  the one ``HasLeader.leader`` names at that moment, for any other role the
  one ``HasRoleHolders.holder`` names (else a random node);
* a node name: always that node.

Role names come from the target, never from here, except ``leader``, whose
node Seam knows how to ask for (``HasLeader``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.errors import ConfigError, NemesisError, UnsupportedError
from harness.core.options import word
from harness.core.protocols import HasLeader, HasRoleHolders, HasRoles, Test
from nemesis.spec import NemesisContext, Option

RANDOM, ANY, LEADER = "random", "any", "leader"


def target_option(default: str = RANDOM) -> Option:
    return word(
        "target",
        default,
        "what to aim at, each time: random (a random node), any (a random node or one of the "
        "target's roles), a role the target declares (e.g. leader), or a node",
        "random, any, a role of the target, or a node name",
    )


def roles_of(target: Any) -> tuple[str, ...]:
    """The roles a target declares; none for a target without ``HasRoles``."""
    return tuple(target.roles()) if isinstance(target, HasRoles) else ()


def check_aim(fault: str, aim: str, ctx: NemesisContext) -> None:
    """Refuse, before anything starts, an aim this cluster and target cannot take."""
    roles = roles_of(ctx.target)
    if aim in (RANDOM, ANY) or aim in ctx.nodes:
        return
    if aim in roles:
        if aim == LEADER and not isinstance(ctx.target, HasLeader):
            raise ConfigError(
                f"{fault}.target=leader: the target declares a leader role but cannot say who "
                "leads (HasLeader); use target=random"
            )
        return
    raise ConfigError(
        f"{fault}.target={aim}: not a node ({', '.join(ctx.nodes)}) nor a role the target declares "
        f"({', '.join(roles) or 'none'}); use random, any, one of those nodes or roles"
    )


def aim_value(aim: str, ctx: NemesisContext, rng: random.Random) -> dict[str, Any]:
    """The part of a start op's value that says where it aims (``node`` or ``role``)."""
    if aim == ANY:
        aim = rng.choice([RANDOM, *roles_of(ctx.target)])
    if aim == RANDOM:
        return {"node": rng.choice(list(ctx.nodes))}
    if aim in ctx.nodes:
        return {"node": aim}
    return {"role": aim}


def pick_node(
    spec: Mapping[str, Any], nodes: Sequence[str], target: Any, test: Test | None, rng: random.Random
) -> str:
    """The node a start op aims at: named, the current leader, the node the target says
    holds the role (``HasRoleHolders``), or a seeded random one."""
    if spec.get("node"):
        if spec["node"] not in nodes:
            raise NemesisError(f"unknown node {spec['node']!r}; nodes are {', '.join(nodes)}")
        return str(spec["node"])
    if spec.get("role") == LEADER:
        if not isinstance(target, HasLeader):
            raise UnsupportedError(
                "aiming at the leader needs a target that can say who leads (HasLeader)"
            )
        leader = target.leader(test)
        if leader is None:
            raise NemesisError(
                "no node reports itself leader right now; aim at a random node instead"
            )
        return leader
    role = spec.get("role")
    if role and isinstance(target, HasRoleHolders):
        holder = target.holder(test, str(role), rng)
        if holder is None:
            raise NemesisError(f"no node holds role {role!r} right now; aim at a random node instead")
        return holder
    return rng.choice(list(nodes))
