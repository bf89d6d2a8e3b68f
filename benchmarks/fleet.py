"""Fleet scale: time and memory of ``large`` as jobs x nodes grow, and the Dask pricing speed-up.

    python -m benchmarks.fleet curve [--instances F2K5,XXXL,F10K,F20K] [--time-limit 600]
    python -m benchmarks.fleet dask INSTANCE [--rounds 20] [--workers 0,1,2]
    python -m benchmarks.fleet bound INSTANCE [--seconds 120]
    python -m benchmarks.fleet pass INSTANCE [--jobs N]

``curve`` solves each instance with ``--solver large`` in a fresh process (``one``), one after
the other (never two big runs at once: they would share the two cores and each other's
memory), and prints size, limit, wall seconds from start to a validated plan (writing and
loading the scenario included), peak RSS, objective, bound, gap and the seconds of each step,
with ``uptime``'s load before and after each run: on a shared machine the load is half of what
a wall time means.

``dask`` prices the Lagrangian ascent for a fixed number of rounds in this process (workers 0)
and on a Dask ``LocalCluster`` of 1, 2, ... worker processes, checks that the bound, the
multipliers, the runs each job prefers and the rounded plan are identical, and prints the
seconds per round of each. A fixed round count, not a time limit, so that every variant does
the same work and the plans can be compared.

``bound`` times loading, the families and the Lagrangian ascent alone (no greedy, no plan), with
peak RSS: what the proven bound costs where the plan's phases do not fit the limit.

``pass`` times one greedy pass (the placement every constructive phase repeats) and hashes
its plan, to compare placement code for speed and for an unchanged plan.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.instances import INSTANCES, REPO, write_instance

X = "\N{MULTIPLICATION SIGN}"


def load() -> str:
    """The 1-minute load average, as ``uptime`` shows it."""
    return f"{os.getloadavg()[0]:.1f}"


def solve_one(instance: str, time_limit: float) -> dict:
    """Write, load, solve with ``large`` and validate; wall seconds from the first step."""
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.accounting import account, objective_value
    from greenslot.model.validator import validate
    from greenslot.solvers.large import solve_large
    from greenslot.solvers.types import SolveOptions

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"greenslot-fleet-{instance}-") as folder:
        scenario = load_scenario(write_instance(instance, folder))
    loaded = time.perf_counter()
    result = solve_large(scenario, SolveOptions(time_limit_s=time_limit))
    solved = time.perf_counter()
    violations = validate(scenario, result.schedule)
    totals = account(scenario, result.schedule).totals
    objective = objective_value(scenario, totals) + result.unplaced_penalty
    steps = {name: round(step["wall_seconds"], 1)
             for name, step in result.details.get("steps", {}).items() if step["ran"]}
    return {
        "instance": instance, "jobs": len(scenario.jobs), "nodes": len(scenario.nodes),
        "slots": scenario.grid.n_slots, "limit_s": time_limit,
        "load_s": round(loaded - began, 1), "solve_s": round(solved - loaded, 1),
        "validate_s": round(time.perf_counter() - solved, 1),
        "wall_s": round(time.perf_counter() - began, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "objective": objective, "bound": result.bound,
        "gap": None if result.bound is None else (objective - result.bound) / abs(objective),
        "valid": not violations, "unplaced": len(result.schedule.unplaced),
        "families": result.details.get("families"),
        "rounds": result.details.get("lagrangian_rounds"),
        "plan_from": result.details.get("plan_from"), "steps": steps,
        "candidates": {name: round(total, 1) for name, total
                       in result.details.get("candidates", {}).items()},
    }


def curve(instances: list[str], time_limit: float) -> None:
    rows = []
    for instance in instances:
        before = load()
        done = subprocess.run([sys.executable, "-m", "benchmarks.fleet", "one", instance,
                               "--time-limit", str(time_limit)], cwd=REPO,
                              capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            sys.stderr.write(done.stderr[-3000:])
            rows.append({"instance": instance, "failed": done.returncode})
            continue
        row = json.loads(lines[-1]) | {"load": f"{before} -> {load()}"}
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    print(f"| size (J{X}N{X}T) | limit s | wall s | peak RSS MB | objective | bound | gap % "
          "| valid | load | steps (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "failed" in r:
            print(f"| {r['instance']} | | failed (exit {r['failed']}) | | | | | | | |")
            continue
        gap = "" if r["gap"] is None else f"{100 * r['gap']:.2f}"
        bound = "" if r["bound"] is None else f"{r['bound']:,.1f}"
        steps = ", ".join(f"{k} {v}" for k, v in r["steps"].items())
        print(f"| {r['instance']} {r['jobs']:,}{X}{r['nodes']:,}{X}{r['slots']} "
              f"| {r['limit_s']:g} | {r['wall_s']:.0f} | {r['peak_mb']:,} "
              f"| {r['objective']:,.1f} | {bound} | {gap} | {r['valid']} | {r['load']} "
              f"| load {r['load_s']}, {steps} |")


def _ascent(prep, families, rounds: int, pricer) -> tuple:
    from greenslot.solvers.lagrange import LagrangianBound
    from greenslot.solvers.rounding import round_support

    lagrangian = LagrangianBound(prep, families, pricer_given=pricer)
    began = time.perf_counter()
    lagrangian.start_pricing()
    sent = time.perf_counter()
    bound, mult, made = lagrangian.ascend(float(prep.penalty.sum()), float("inf"),
                                          max_rounds=rounds)
    seconds = time.perf_counter() - sent
    preferred = lagrangian.preferred_columns()
    _, placed, lost = round_support(prep, preferred)
    return sent - began, seconds / made, (bound, mult, preferred, placed, lost)


def _identical(a: tuple, b: tuple) -> bool:
    same_mult = all(np.array_equal(getattr(a[1], n), getattr(b[1], n))
                    for n in ("pi", "rho", "kappa", "sigma"))
    return a[0] == b[0] and same_mult and a[2] == b[2] and a[3] == b[3] and a[4] == b[4]


def dask(instance: str, rounds: int, workers: list[int]) -> None:
    from greenslot.analysis.sweep import ClusterSpec
    from greenslot.analysis.sweep.cluster import open_client
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.solvers.distributed import DaskPricer
    from greenslot.solvers.large import prepared_families

    with tempfile.TemporaryDirectory(prefix=f"greenslot-fleet-{instance}-") as folder:
        scenario = load_scenario(write_instance(instance, folder))
    prep, families = prepared_families(scenario)
    print(f"{instance}: {len(prep.jobs):,} jobs, {families.size:,} families x "
          f"{prep.n_slots} slots, {rounds} rounds; {os.cpu_count()} cores")
    print("| pricing | blocks sent s | s per round | speed-up | same bound, multipliers, runs, "
          "plan | load |")
    print("|---|---|---|---|---|---|")
    reference = None
    for n in workers:
        before = load()
        if n == 0:
            send, per_round, found = _ascent(prep, families, rounds, None)
        else:
            with open_client(ClusterSpec(kind="local", workers=n)) as client:
                send, per_round, found = _ascent(prep, families, rounds, DaskPricer(client))
        if reference is None:
            reference = (per_round, found)
        name = "this process" if n == 0 else f"Dask LocalCluster, {n} worker(s)"
        print(f"| {name} | {send:.1f} | {per_round:.2f} | {reference[0] / per_round:.2f} "
              f"| {_identical(reference[1], found)} | {before} -> {load()} |", flush=True)


def bound_only(instance: str, seconds: float) -> None:
    """Load, families and the Lagrangian ascent alone for ``seconds`` (at least one round):
    what the proven bound costs at a size where greedy does not finish in the limit."""
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.solvers.lagrange import LagrangianBound
    from greenslot.solvers.large import prepared_families

    began, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix=f"greenslot-fleet-{instance}-") as folder:
        scenario = load_scenario(write_instance(instance, folder))
    loaded = time.perf_counter()
    prep, families = prepared_families(scenario)
    prepared = time.perf_counter()
    lagrangian = LagrangianBound(prep, families)
    # no plan here to aim the Polyak steps at: aim 2 % above the bound at the start (the
    # target only sizes the steps; every round's value is a proven bound whatever it is)
    start = lagrangian.evaluate(lagrangian.initial()).bound
    bound, _, rounds = lagrangian.ascend(start + 0.02 * abs(start), prepared + seconds,
                                         min_rounds=1)
    done = time.perf_counter()
    print(json.dumps({
        "instance": instance, "jobs": len(prep.jobs), "nodes": len(scenario.nodes),
        "slots": prep.n_slots, "families": families.size, "load_s": round(loaded - began, 1),
        "families_s": round(prepared - loaded, 1), "ascent_s": round(done - prepared, 1),
        "rounds": rounds, "s_per_round": round((done - prepared) / rounds, 2),
        "bound": bound, "cpu_s": round(time.process_time() - cpu, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load": load()}), flush=True)


def greedy_pass(instance: str, jobs: int | None) -> None:
    """One greedy pass (tightest window first, no time limit) over the first ``jobs`` jobs
    in its order: CPU and wall seconds, placed, objective, peak RSS and a hash of the plan,
    so two versions of the placement can be compared for speed and for the same plan."""
    import functools
    import hashlib

    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.solvers import greedy
    from greenslot.solvers.ordering import dependency_order
    from greenslot.solvers.state import ClusterState

    with tempfile.TemporaryDirectory(prefix=f"greenslot-fleet-{instance}-") as folder:
        scenario = load_scenario(write_instance(instance, folder))
    probe = ClusterState(scenario)
    groups = {j.job_id: probe.candidate_groups(j) for j in scenario.jobs}
    finish = greedy.latest_finish(scenario, groups)
    key = greedy._keys(scenario, groups, finish)["tightest-window"]
    order = dependency_order([j for j in scenario.jobs if not j.pinned], functools.partial(
        greedy._boosted_first, key=key, boosted=frozenset()))[:jobs]
    before, cpu, began = load(), time.process_time(), time.perf_counter()
    attempt = greedy._Pass(scenario, groups, finish)
    attempt.run(order)
    plan = "\n".join(sorted(repr(a) for a in attempt.placed.values()))
    print(json.dumps({
        "instance": instance, "jobs": len(order), "placed": len(attempt.placed),
        "unplaced": len(attempt.failures), "objective": round(attempt.state.objective(), 4),
        "cpu_s": round(time.process_time() - cpu, 1),
        "wall_s": round(time.perf_counter() - began, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "plan_sha256": hashlib.sha256(plan.encode()).hexdigest()[:12],
        "load": f"{before} -> {load()}"}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet")
    verbs = parser.add_subparsers(dest="verb", required=True)
    c = verbs.add_parser("curve")
    c.add_argument("--instances", default="F2K5,XXXL,F10K,F20K")
    c.add_argument("--time-limit", type=float, default=600.0)
    o = verbs.add_parser("one")
    o.add_argument("instance", choices=list(INSTANCES))
    o.add_argument("--time-limit", type=float, default=600.0)
    d = verbs.add_parser("dask")
    d.add_argument("instance", choices=list(INSTANCES))
    d.add_argument("--rounds", type=int, default=20)
    d.add_argument("--workers", default="0,1,2")
    b = verbs.add_parser("bound")
    b.add_argument("instance", choices=list(INSTANCES))
    b.add_argument("--seconds", type=float, default=120.0)
    g = verbs.add_parser("pass")
    g.add_argument("instance", choices=list(INSTANCES))
    g.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    if args.verb == "curve":
        curve([i for i in args.instances.split(",") if i], args.time_limit)
    elif args.verb == "bound":
        bound_only(args.instance, args.seconds)
    elif args.verb == "pass":
        greedy_pass(args.instance, args.jobs)
    elif args.verb == "one":
        print(json.dumps(solve_one(args.instance, args.time_limit)), flush=True)
    else:
        dask(args.instance, args.rounds, [int(w) for w in args.workers.split(",")])


if __name__ == "__main__":
    main()
