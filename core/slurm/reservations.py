"""Slurm reservations for the capacity a scenario holds back (its ``reservations:`` key).

The planner already keeps those nodes free (the loader turns each reservation into
unavailable slots of its nodes); this module makes Slurm hold them too, so work submitted by
others cannot take them. A reservation is named ``greenslot-<name>``: greenslot creates and
updates only reservations with that prefix, never anyone else's.

Idempotent: an existing reservation with the same start, duration and nodes is left alone, one
that differs is updated in place (``scontrol update``), a missing one is created.
GPU-count reservations are resolved to whole nodes at load time, because Slurm 22.05 cannot
reserve ``gres/gpu`` without an accounting database.
"""

from __future__ import annotations

import getpass
import re
import time
from collections.abc import Callable

from greenslot.slurm.commands import Runner, SlurmError, controller_time, run_slurm

NAME_PREFIX = "greenslot-"


def slurm_name(name: str) -> str:
    return NAME_PREFIX + name


def _show(name: str, runner: Runner) -> dict[str, str] | None:
    """Fields of ``scontrol -o show reservation NAME``; ``None`` when it does not exist."""
    try:
        text = runner(["scontrol", "-o", "show", "reservation", name])
    except SlurmError as exc:
        if "not found" in str(exc).lower():
            return None
        raise
    if "not found" in text.lower() or "ReservationName=" not in text:
        return None
    return dict(re.findall(r"(\w+)=(\S*)", text))


def _minutes(duration: str) -> int | None:
    """Slurm's ``[D-]HH:MM:SS`` as minutes."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+):(\d+)", duration or "")
    if not match:
        return None
    days, hours, minutes, _ = (int(x or 0) for x in match.groups())
    return days * 1440 + hours * 60 + minutes


def ensure_reservations(reservations: list[dict], runner: Runner = run_slurm,
                        say: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Create or update each reservation; returns ``name -> created|updated|unchanged``."""
    done = {}
    for res in reservations:
        name = slurm_name(res["name"])
        if res["start_epoch"] + 60 * int(res["duration_min"]) <= time.time():
            done[name] = "already over"
            say(f"reservation {name}: already over, not created")
            continue
        start = controller_time(res["start_epoch"])
        fields = [f"StartTime={start}", f"Duration={int(res['duration_min'])}",
                  f"Nodes={res['nodes']}"]
        current = _show(name, runner)
        if current is None:
            users = ",".join(res.get("users") or [getpass.getuser()])
            runner(["scontrol", "create", "reservation", f"ReservationName={name}", *fields,
                    f"Users={users}"])
            done[name] = "created"
        elif (current.get("StartTime") == start
              and _minutes(current.get("Duration", "")) == int(res["duration_min"])
              and current.get("Nodes") == res["nodes"]):
            done[name] = "unchanged"
        else:
            runner(["scontrol", "update", f"ReservationName={name}", *fields])
            done[name] = "updated"
        say(f"reservation {name}: {done[name]} ({start}, {int(res['duration_min'])} min, "
            f"{res['nodes']})")
    return done
