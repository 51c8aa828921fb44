"""`seam cluster up|down|status`: the namespace cluster on this machine (needs root)."""

from __future__ import annotations

from pathlib import Path

import click

from harness.control.cluster import DEFAULT_PREFIX, DEFAULT_SUBNET, NetnsCluster

_STATE_HELP = (
    "Where keys, sshd configs and state.json live (default $SEAM_STATE_DIR or results/.cluster; "
    "results/.cluster-<prefix> for another --cluster-prefix)."
)
_PREFIX_HELP = (
    "Name prefix of everything created (starts with 'seam'); lets clusters run side by side."
)


@click.group()
def cluster() -> None:
    """Create, inspect or remove the namespace cluster.

    \b
    Nodes are network namespaces seam-n1..seam-nN joined by the bridge
    seam-br0. The subnet (default 10.77.0.0/24) exists only on the bridge and
    inside the namespaces: the control node is 10.77.0.1, node i is 10.77.0.(10+i).

    \b
    Examples:
      seam cluster up --nodes 5
      seam cluster up --ssh            # an sshd per node, for --cluster ssh
      seam cluster status
      seam cluster down
    """


@cluster.command()
@click.option(
    "--nodes", default=5, show_default=True, type=click.IntRange(1, 99), help="How many nodes."
)
@click.option(
    "--ssh",
    is_flag=True,
    help="Run an sshd in every namespace (own host key, generated client key).",
)
@click.option(
    "--subnet",
    default=DEFAULT_SUBNET,
    show_default=True,
    help="Private IPv4 subnet; refused if it collides with a host route.",
)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=_STATE_HELP)
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help=_PREFIX_HELP)
def up(nodes: int, ssh: bool, subnet: str, state_dir: Path | None, prefix: str) -> None:
    """Create the cluster, or repair it; running it twice is fine.

    \b
    Examples:
      seam cluster up
      seam cluster up --nodes 3 --ssh --subnet 10.78.0.0/24
    """
    c = NetnsCluster(nodes=nodes, subnet=subnet, ssh=ssh, state_dir=state_dir, prefix=prefix)
    infos = c.up()
    for n in infos:
        ssh_part = f"  ssh root@{n.address}:{n.ssh_port}" if n.ssh_port else ""
        click.echo(f"{n.name}  {n.namespace}  {n.address}{ssh_part}")
    click.echo(
        f"bridge {c.bridge} {c.bridge_address}/{c.network.prefixlen}; state in {c.state_dir}"
    )
    if ssh:
        click.echo(f"ssh key {c.client_key}, known_hosts {c.known_hosts}")


@cluster.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=_STATE_HELP)
@click.option("--prefix", default=None, help=_PREFIX_HELP)
def down(state_dir: Path | None, prefix: str | None) -> None:
    """Remove the namespaces, veths, bridge and sshds Seam created. Idempotent.

    \b
    Example:
      seam cluster down
    """
    c = NetnsCluster.from_state(state_dir, prefix)
    c.down()
    click.echo(f"cluster {c.prefix} removed")


@cluster.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=_STATE_HELP)
@click.option("--prefix", default=None, help=_PREFIX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(state_dir: Path | None, prefix: str | None, as_json: bool) -> None:
    """Show what exists: bridge, namespaces, links, addresses, sshds.

    \b
    Examples:
      seam cluster status
      seam cluster status --json
    """
    st = NetnsCluster.from_state(state_dir, prefix).status()
    if as_json:
        import json

        click.echo(json.dumps(st, indent=2))
        return
    _print_status(st)


def _print_status(st: dict) -> None:
    br = st["bridge"]
    head = (
        f"cluster {st['prefix']}  subnet {st['subnet']}  bridge {br['name']} "
        f"{'up' if br['exists'] else 'absent'} ({br['address']})  state {st['state_file']}"
        f"{'' if st['recorded'] else ' (none recorded)'}"
    )
    rows = [
        [
            n["name"],
            n["namespace"] if n["exists"] else "absent",
            n["address"],
            "yes" if n["veth"] else "no",
            n["eth0"],
            n["lo"],
            (f"{n['sshd_pid']} {'alive' if n['sshd_alive'] else 'dead'}" if n["sshd_pid"] else "-"),
        ]
        for n in st["nodes"]
    ]
    cols = ["node", "namespace", "address", "veth", "eth0", "lo", "sshd"]
    click.echo(head)
    if not rows:
        click.echo("no nodes; `seam cluster up` creates them")
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for r in [cols, *rows]:
            click.echo("  ".join(f"{c:<12}" for c in r))
        return
    table = Table()
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*r)
    Console().print(table)
