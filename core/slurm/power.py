"""Idle power-down that happens: the plan's idle windows as Slurm power-saving actions.

Where a site has ``power_down_idle: true`` the accounting prices a node with no job as drawing
0 W. That is only true if the node is really suspended, so a plan carries, for each such node,
its idle windows as actions (``power`` in ``sbatch.json``): suspend at the window's start,
resume :data:`RESUME_LEAD_S` before the next planned job (or the horizon's end) so the node is
up when the job begins.

Mechanism: Slurm's own power saving. ``scontrol update NodeName=<n> State=POWER_DOWN`` makes
slurmctld run the site's ``SuspendProgram`` for the node, ``State=POWER_UP`` its
``ResumeProgram``; the site keeps its programs (IPMI, cloud API...), greenslot only says when.
Why not leave it to ``SuspendTime``: Slurm would suspend any node idle for that long, also
one the plan fills a minute later, and would resume it only when a job is already due (the
job then waits for the boot).

Applying is *converging*, not replaying: :func:`apply_power` looks at the clock (injected) and
at ``sinfo``, and for each node of the plan's actions powers it down when a window is open and
the node is idle and up, and up when no window is open and the node is powered down. So it is
safe to run at any time and any number of times: ``greenslot submit`` runs it once, and
``greenslot power DIR --apply`` from a timer (every minute) runs it through the night.
A node that runs a job is never powered down; a node not named by the plan is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.slurm.commands import Runner, controller_time, run_slurm
from greenslot.slurm.foreign import read_nodes

RESUME_LEAD_S = 300
"""Seconds before a planned job that its node is resumed: the boot must fit in it (Slurm's
``ResumeTimeout`` should not exceed it). A window shorter than twice this is left alone."""

RESUME_GRACE_S = 3600
"""How long after a window's resume time a run still powers its node up. Later, a node that is
down was powered down by Slurm itself (``SuspendTime``) and is left to Slurm."""

DOWN_WORDS = frozenset({"POWERED_DOWN", "POWER_DOWN", "POWERING_DOWN"})
# Still powering down: Slurm cannot power it up before SuspendTimeout ends (a later run will).
SETTLING_WORDS = frozenset({"POWERING_DOWN"})
BUSY_WORDS = frozenset({"ALLOCATED", "MIXED", "COMPLETING"})


@dataclass(frozen=True)
class PowerAction:
    """Node ``node`` is suspended over ``[suspend_epoch, resume_epoch)`` (Unix seconds)."""

    node: str
    suspend_epoch: int
    resume_epoch: int

    def as_json(self) -> dict:
        return {"node": self.node, "suspend_epoch": self.suspend_epoch,
                "resume_epoch": self.resume_epoch}


def power_actions(scenario: Scenario, schedule: Schedule,
                  lead_s: int = RESUME_LEAD_S) -> tuple[PowerAction, ...]:
    """The idle windows of nodes at ``power_down_idle`` sites, as suspend/resume times.

    A window is a run of slots where the plan runs nothing on the node and the node is not
    unavailable (maintenance, DOWN, reserved: not the plan's to power). The accounting prices
    the whole window at 0 W; the node actually boots during the last ``lead_s`` of it.
    """
    grid = scenario.grid
    busy: dict[str, set[int]] = {n.name: set(n.unavailable_slots) for n in scenario.nodes}
    for a in schedule.assignments:
        for name in a.nodes:
            busy[name].update(a.slots_in_horizon(grid.n_slots))
    actions = []
    for node in scenario.nodes:
        if not scenario.site(node.site).power_down_idle:
            continue
        start = None
        for t in range(grid.n_slots + 1):
            idle = t < grid.n_slots and t not in busy[node.name]
            if idle and start is None:
                start = t
            elif not idle and start is not None:
                suspend = int(grid.time_of(start).timestamp())
                resume = int(grid.time_of(t).timestamp()) - lead_s
                if resume - suspend >= lead_s:
                    actions.append(PowerAction(node.name, suspend, resume))
                start = None
    return tuple(actions)


def read_actions(data: dict) -> list[PowerAction]:
    """The ``power`` entries of ``sbatch.json`` (checked by ``read_plan_data``)."""
    return [PowerAction(str(p["node"]), int(p["suspend_epoch"]), int(p["resume_epoch"]))
            for p in data.get("power", [])]


def power_saving_configured(runner: Runner = run_slurm) -> bool:
    """Whether slurmctld has a ``SuspendProgram`` and a ``ResumeProgram`` to run.

    Why ask: without them Slurm refuses ``State=POWER_DOWN`` ("Invalid node state"), and a
    site that does not power nodes down should still be able to submit its plans.
    """
    config = {}
    for line in runner(["scontrol", "show", "config"]).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip()
    return all(config.get(k, "(null)") not in ("", "(null)")
               for k in ("SuspendProgram", "ResumeProgram"))


def apply_power(actions: list[PowerAction], now_epoch: float, runner: Runner = run_slurm,
                say: Callable[[str], None] = lambda _: None,
                dry_run: bool = False) -> dict[str, str]:
    """Bring each node of ``actions`` to the state the plan wants at ``now_epoch``.

    Down while one of its windows is open (and it runs no job); up within
    :data:`RESUME_GRACE_S` after one of its windows ended, when none is open (a node Slurm
    suspended on its own at other times is not woken). ``dry_run``: say what would be done,
    run nothing. Returns ``node -> what``.
    """
    if not actions:
        return {}
    if not power_saving_configured(runner):
        say(f"power: Slurm has no SuspendProgram/ResumeProgram (power saving is off); "
            f"{len(actions)} power action(s) not applied")
        return {}
    by_node: dict[str, list[PowerAction]] = {}
    for action in actions:
        by_node.setdefault(action.node, []).append(action)
    nodes = read_nodes(runner)
    done = {}
    for name, own in sorted(by_node.items()):
        window = next((a for a in own if a.suspend_epoch <= now_epoch < a.resume_epoch), None)
        ended = any(a.resume_epoch <= now_epoch < a.resume_epoch + RESUME_GRACE_S for a in own)
        status = nodes.get(name)
        if status is None:
            continue
        down = bool(status.states & DOWN_WORDS)
        if window is not None and not down:
            if status.states & BUSY_WORDS:
                done[name] = "runs a job; not powered down"
                say(f"power {name}: {done[name]}")
                continue
            command = ["scontrol", "update", f"NodeName={name}", "State=POWER_DOWN"]
            done[name] = f"power down until {controller_time(window.resume_epoch)} UTC"
        elif window is None and down and ended:
            if status.states & SETTLING_WORDS:
                done[name] = "still powering down; powered up by a later run"
                say(f"power {name}: {done[name]}")
                continue
            command = ["scontrol", "update", f"NodeName={name}", "State=POWER_UP"]
            done[name] = "power up"
        else:
            continue
        if not dry_run:
            runner(command)
        say(f"{'would ' if dry_run else ''}power {name}: {done[name]}")
    return done
