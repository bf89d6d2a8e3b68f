"""Hostile inputs: not mistakes a user makes, but inputs built to hang, exhaust or overflow.

Why a module of its own: the fixed cases (``test_hostile_inputs.py``, one per finding of
issue 19) and the hostile fuzzer (``test_hostile_fuzz.py``) draw from the same kinds, so a
new kind added here is both pinned by a case and mixed by the fuzzer.

Each builder returns a :data:`tests.helpers.trust.Mutation`; the expected answer of every one is
exit 2 with one stderr line naming file and field, no traceback, nothing written.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.helpers.scenarios import START
from tests.helpers.trust import (
    CURVE,
    FORECAST,
    Data,
    Mutation,
    chain,
    forecast_cell,
    raw_file,
    set_config,
    set_gpu_type,
    set_job,
    set_node,
    set_site,
)

YAML = "scenario.yaml"
JOBS = "jobs.csv"

VALID_HEAD = (f'start: "{START}"\nhorizon: 4h\nslot: 1h\n'
              "sites: [{name: s1, forecast: forecast-s1.csv}]\n"
              "gpu_types: [{name: G, gpu_idle_w: 10, power_curve: curve-g.csv}]\n"
              "nodes: [{names: 'n[1-2]', site: s1, gpu_type: G, gpus: 2, idle_w: 100}]\n"
              "jobs: jobs.csv\n")


def alias_bomb(levels: int, width: int = 9) -> str:
    """A "billion laughs" flow sequence: ``width ** levels`` leaves from a few hundred bytes."""
    parts = [f"&a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        parts.append(f"&a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "[" + ", ".join(parts) + "]"


def yaml_name(value_text: str) -> Mutation:
    """The whole scenario file with ``name:`` set to raw YAML text (an alias bomb...)."""
    return raw_file(YAML, VALID_HEAD + f"name: {value_text}\n")


def deep_flow(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_block(depth: int) -> str:
    """``depth`` nested block mappings under ``objective:``."""
    lines = ["objective:"]
    lines += [f"{'  ' * (i + 1)}k{i}:" for i in range(depth)]
    return VALID_HEAD + "\n".join(lines) + " 1\n"


def ten_huge_hostlists(d: Data) -> None:
    """About a million nodes in ten comma parts, each below the old per-expression limit."""
    d.node["names"] = ",".join(f"p{i}n[1-99999]" for i in range(10))


def two_huge_groups(d: Data) -> None:
    """Two node groups of 60,000: each fine alone, too many together."""
    d.node["names"] = "a[1-60000]"
    d.config["nodes"].append(dict(d.node, names="b[1-60000]"))


def reservation_users(users: list[str]) -> Mutation:
    def mutate(d: Data) -> None:
        d.config["reservations"] = [{"name": "r1", "start": START, "duration": "1h",
                                     "nodes": "n1", "users": users}]
    return mutate


def huge_int_text(digits: int) -> str:
    return "1" + "0" * digits


# (id, mutation, expected check, file, field): the answer each must give.
HostileCase = tuple[str, Mutation, str, str, str | None]

FIXED: list[HostileCase] = [
    # item 2: YAML that explodes
    ("alias-bomb-930b", yaml_name(alias_bomb(9)), "too_large", YAML, None),
    ("alias-bomb-792b", yaml_name(alias_bomb(7)), "too_large", YAML, None),
    ("alias-small-list-name", yaml_name(alias_bomb(3)), "bad_type", YAML, "name"),
    ("deep-flow-nesting", yaml_name(deep_flow(5000)), "too_large", YAML, None),
    ("deep-block-nesting", raw_file(YAML, deep_block(300)), "too_large", YAML, None),
    ("long-name", set_config(name="x" * 100_000), "too_large", YAML, "name"),
    ("job-site-100k-chars", set_job(site="x" * 100_000), "unknown_site", JOBS, "site"),
    ("yaml-key-100k-chars", lambda d: d.site.update({"k" * 100_000: 1}), "unknown_key", YAML,
     None),
    # item 3: sizes without limits
    ("hostlist-5000-nines", set_node(names="n[1-" + "9" * 5000 + "]"), "bad_hostlist", YAML,
     "names"),
    ("hostlist-ten-parts", ten_huge_hostlists, "bad_hostlist", YAML, "names"),
    ("hostlist-two-groups", two_huge_groups, "bad_hostlist", YAML, "names"),
    ("horizon-100000d-1s", set_config(horizon="100000D", slot="1s"), "too_large", YAML,
     "horizon"),
    ("slot-1ns", set_config(horizon="4h", slot="1ns"), "bad_duration", YAML, "slot"),
    ("horizon-past-pandas", set_config(horizon="200000D", slot="1D"), "too_large", YAML,
     "horizon"),
    ("start-year-9999", set_config(start="9999-01-01T00:00:00+00:00"), "time_out_of_range",
     YAML, "start"),
    ("start-year-10000", set_config(start="10000-01-01T00:00:00+00:00"), "bad_time", YAML,
     "start"),
    ("start-year-2250", set_config(start="2250-01-01T00:00:00+00:00"), "time_out_of_range",
     YAML, "start"),
    ("deadline-year-9999", set_job(deadline="9999-12-31T00:00:00+00:00"), "time_out_of_range",
     JOBS, "deadline"),
    ("node-slots", chain(set_node(names="n[1-2000]"), set_config(horizon="4h", slot="1s")),
     "too_large", YAML, "nodes"),
    # item 4: huge finite numbers
    ("forecast-1e308", forecast_cell(0, "carbon_g_per_kwh", "1e308"), "bad_number", FORECAST,
     "carbon_g_per_kwh"),
    ("price-1e308", forecast_cell(1, "price_per_mwh", "-1e308"), "bad_number", FORECAST,
     "price_per_mwh"),
    ("pue-1e308", set_site(pue=1e308), "bad_number", YAML, "pue"),
    ("idle-1e308", set_node(idle_w=1e308), "bad_number", YAML, "idle_w"),
    ("idle-huge-int", set_node(idle_w=int(huge_int_text(400))), "bad_number", YAML, "idle_w"),
    ("gpu-idle-1e308", set_gpu_type(gpu_idle_w=1e308), "bad_number", YAML, "gpu_idle_w"),
    ("node-gpus-1e30", set_node(gpus=1e30), "bad_number", YAML, "gpus"),
    ("job-gpus-1e30", set_job(gpus="1e30"), "bad_number", JOBS, "gpus"),
    ("duration-1e-300", set_job(duration_h="1e-300"), "bad_number", JOBS, "duration_h"),
    ("duration-1e300", set_job(duration_h="1e300"), "bad_number", JOBS, "duration_h"),
    ("priority-1e300", set_job(priority="1e300"), "bad_number", JOBS, "priority"),
    ("data-gb-1e300", set_job(data_gb="1e300"), "bad_number", JOBS, "data_gb"),
    ("cap-1e308", set_site(power_cap_kw=1e308), "bad_number", YAML, "power_cap_kw"),
    ("budget-1e308", set_site(carbon_budget_kg=1e308), "bad_number", YAML, "carbon_budget_kg"),
    ("transfer-1e308", set_config(transfer_kwh_per_gb=1e308), "bad_number", YAML,
     "transfer_kwh_per_gb"),
    ("curve-power-1e308", lambda d: d.curve[0].update(power_w="1e308"), "bad_number", CURVE,
     "power_w"),
    ("objective-weight-1e308", set_config(objective={"carbon_kg": 1e308}), "bad_objective",
     YAML, "objective.carbon_kg"),
    # item 7: names with a trailing newline
    ("reservation-user-newline", reservation_users(["root\n"]), "bad_reservation", YAML,
     "users"),
    ("job-id-inner-newline", raw_file(JOBS, 'job_id,gpus,duration_h\n"a\nb",1,1\n'),
     "bad_name", JOBS, "job_id"),
]


# --- building blocks the hostile fuzzer mixes -----------------------------------------------

HUGE_NUMBERS = ["1e308", "-1e308", "1e-300", "1e30", "nan", "inf", "-inf", "1e999",
                huge_int_text(400), "0", "-0", "4e-324", "9" * 30]
HUGE_TEXT = ["x" * 100_000, "a\n", "a\nb", "\u202e", "$\\frac{$", "\x00", "' OR 1=1", "../.."]


def _random_number(rng: random.Random) -> str:
    return rng.choice(HUGE_NUMBERS)


def _yaml_number(text: str) -> float | int | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def random_hostile(rng: random.Random) -> tuple[str, Mutation]:
    """One hostile mutation drawn at random, with a label that reproduces it."""
    kind = rng.randrange(12)
    if kind == 0:
        levels = rng.randint(2, 12)
        return f"alias-bomb-{levels}", yaml_name(alias_bomb(levels, rng.randint(2, 12)))
    if kind == 1:
        depth = rng.randint(50, 20_000)
        return f"deep-flow-{depth}", yaml_name(deep_flow(depth))
    if kind == 2:
        depth = rng.randint(50, 2_000)
        return f"deep-block-{depth}", raw_file(YAML, deep_block(depth))
    if kind == 3:
        digits = rng.randint(10, 6000)
        parts = rng.randint(1, 20)
        names = ",".join(f"p{i}n[1-{'9' * rng.randint(1, digits)}]" for i in range(parts))
        return f"hostlist-{parts}x{digits}", set_node(names=names)
    if kind == 4:
        unit = rng.choice(["ns", "us", "ms", "s", "min", "h", "D", "W"])
        horizon = f"{rng.choice([1, 10, 1000, 100_000, 10**9])}{rng.choice(['h', 'D', 'W'])}"
        return f"grid-{horizon}-1{unit}", set_config(horizon=horizon, slot=f"1{unit}")
    if kind == 5:
        year = rng.choice([1, 1677, 1969, 2199, 2200, 2262, 2263, 9999, 10000])
        field = rng.choice(["release", "deadline", "pinned_start"])
        stamp = f"{year:04d}-06-01T00:00:00+00:00"
        if field == "pinned_start":
            return f"pinned-{year}", set_job(pinned_start=stamp, pinned_nodes="n1")
        return f"{field}-{year}", set_job(**{field: stamp})
    if kind == 6:
        column = rng.choice(["carbon_g_per_kwh", "price_per_mwh"])
        value = _random_number(rng)
        return f"forecast-{column}-{value[:12]}", forecast_cell(rng.randrange(5), column, value)
    if kind == 7:
        field, setter = rng.choice([("pue", set_site), ("power_cap_kw", set_site),
                                    ("energy_budget_kwh", set_site), ("idle_w", set_node),
                                    ("gpus", set_node), ("gpu_idle_w", set_gpu_type),
                                    ("transfer_kwh_per_gb", set_config)])
        value = _random_number(rng)
        return f"yaml-{field}-{value[:12]}", setter(**{field: _yaml_number(value)})
    if kind == 8:
        field = rng.choice(["gpus", "duration_h", "priority", "data_gb", "power_limit_w"])
        value = _random_number(rng)
        return f"job-{field}-{value[:12]}", set_job(**{field: value})
    if kind == 9:
        field = rng.choice(["job_id", "workload", "site", "depends_on"])
        value = rng.choice(HUGE_TEXT)
        return f"job-text-{field}", set_job(**{field: value})
    if kind == 10:
        value = rng.choice(HUGE_TEXT)
        return "reservation-user", reservation_users([value])
    weights = {rng.choice(["carbon_kg", "cost", "energy_kwh", "carbon_price_per_tonne", "x"]):
               _yaml_number(_random_number(rng)) for _ in range(rng.randint(1, 3))}
    return f"objective-{sorted(weights)}", set_config(objective=weights)


Builder = Callable[[random.Random], tuple[str, Mutation]]
