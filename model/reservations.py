"""Capacity held back for expected high-priority work: the scenario's ``reservations:`` key.

Why as node unavailability: the planner, the validator and every solver already keep
maintenance windows free, so a reservation that becomes unavailable slots of its nodes needs no
solver change and is checked by the same independent validator. ``greenslot submit`` then
creates the matching Slurm reservation (:mod:`greenslot.slurm.reservations`).

A reservation names its nodes (a hostlist) or a GPU count. Slurm 22.05 can only reserve GPUs
as whole nodes without an accounting database, so a GPU count is resolved here to whole nodes:
the last nodes in name order (optionally of one ``site`` / ``gpu_type``) until the count is
covered. The last, because ``fifo`` and every tie fill nodes from the first.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from greenslot.model import hostlist, limits
from greenslot.model.checks import fail
from greenslot.model.scenario import Node
from greenslot.model.timegrid import TimeGrid

RESERVATION_KEYS = {"name", "start", "duration", "nodes", "gpus", "gpu_type", "site", "users"}
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")  # used with fullmatch: "$" passes "x\n"


@dataclass(frozen=True)
class Reservation:
    """Nodes held free from ``start`` for ``duration``, for the Slurm ``users`` (default: the
    user who submits)."""

    name: str
    start: datetime
    duration: timedelta
    nodes: tuple[str, ...]
    users: tuple[str, ...] = ()

    @property
    def end(self) -> datetime:
        return self.start + self.duration


def load_reservations(raw: Any, reader, nodes: tuple[Node, ...]) -> tuple[Reservation, ...]:
    """Parse ``reservations:``; ``reader`` is the loader's YAML reader (file-aware failures)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        fail("bad_type", reader.display, None, "reservations", "expected a list of reservations")
    found: dict[str, Reservation] = {}
    known = {n.name: n for n in nodes}
    for i, item in enumerate(raw):
        where = f"reservations[{i}]"
        data = reader.mapping(item, where, RESERVATION_KEYS, {"name", "start", "duration"})
        name = reader.text(data["name"], where, "name", limits.MAX_NAME_CHARS)
        if not NAME_PATTERN.fullmatch(name):
            fail("bad_name", reader.display, where, "name",
                 f"{name!r}: use letters, digits, '_', '.', '-' only")
        if name in found:
            fail("duplicate_name", reader.display, where, "name", f"reservation {name!r} twice")
        start = reader.time(data["start"], where, "start")
        duration = reader.duration(data["duration"], where, "duration").to_pytimedelta()
        if ("nodes" in data) == ("gpus" in data):
            fail("bad_reservation", reader.display, where, "nodes",
                 "give either nodes (a hostlist) or gpus (a count), not both or neither")
        if "nodes" in data:
            if "gpu_type" in data or "site" in data:
                fail("bad_reservation", reader.display, where, "nodes",
                     "gpu_type and site select nodes for a gpus count; nodes names them")
            chosen = _named_nodes(data["nodes"], reader, where, known)
        else:
            chosen = _nodes_for_gpus(data, reader, where, nodes)
        users = data.get("users", [])
        if isinstance(users, str):
            users = [users]
        if not isinstance(users, list) or not all(
                isinstance(u, str) and NAME_PATTERN.fullmatch(u)
                and len(u) <= limits.MAX_NAME_CHARS for u in users):
            fail("bad_reservation", reader.display, where, "users",
                 "expected a list of user names")
        found[name] = Reservation(name, start, duration, chosen, tuple(users))
    return tuple(found.values())


def _named_nodes(value: Any, reader, where: str, known: dict[str, Node]) -> tuple[str, ...]:
    if not isinstance(value, str | list):
        fail("bad_type", reader.display, where, "nodes", "expected a hostlist or a list")
    try:
        names = hostlist.expand(value, limit=limits.MAX_NODES)
    except hostlist.HostlistError as exc:
        fail("bad_hostlist", reader.display, where, "nodes", str(exc))
    for name in names:
        if name not in known:
            fail("unknown_node", reader.display, where, "nodes", f"no node named {name!r}")
    return tuple(dict.fromkeys(names))


def _nodes_for_gpus(data: dict, reader, where: str, nodes: tuple[Node, ...]) -> tuple[str, ...]:
    gpus = reader.whole(data["gpus"], where, "gpus", limits.RESERVATION_GPUS)
    gpu_type, site = data.get("gpu_type"), data.get("site")
    pool = [n for n in nodes if gpu_type in (None, n.gpu_type) and site in (None, n.site)]
    chosen, covered = [], 0
    for node in reversed(pool):  # nodes are in natural name order
        if covered >= gpus:
            break
        chosen.append(node.name)
        covered += node.gpus
    if covered < gpus:
        fail("bad_reservation", reader.display, where, "gpus",
             f"{int(gpus)} GPUs asked, the matching nodes have {covered}")
    return tuple(sorted(chosen, key=hostlist.natural_key))


def reserve_nodes(nodes: tuple[Node, ...], reservations: tuple[Reservation, ...],
                  grid: TimeGrid) -> tuple[Node, ...]:
    """Nodes with each reservation's slots added to their unavailable slots.

    A reservation blocks every slot it overlaps, as a maintenance window does.
    """
    blocked: dict[str, set[int]] = {}
    for res in reservations:
        first = max(0, math.floor(grid.offset_slots(res.start) + 1e-9))
        last = min(grid.n_slots, math.ceil(grid.offset_slots(res.end) - 1e-9))
        for name in res.nodes:
            blocked.setdefault(name, set()).update(range(first, last))
    return tuple(
        dataclasses.replace(n, unavailable_slots=n.unavailable_slots | frozenset(blocked[n.name]))
        if blocked.get(n.name) else n
        for n in nodes)
