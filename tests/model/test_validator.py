"""The independent validator: one deliberately broken hand-built schedule per violation kind.

Each test writes a tiny scenario with the builder, loads it with the real loader, constructs a
``Schedule`` by hand that breaks exactly one rule, and checks that ``validate`` reports that
kind and nothing else (naming the job where the kind is about one job). ``totals`` is the kind
of :func:`check_totals`, tested against figures worked out by hand from contract section 3.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import TOTAL_KEYS, account
from greenslot.model.schedule import Assignment, Schedule, Unplaced
from greenslot.model.validator import VIOLATION_KINDS, check_totals, validate
from tests.helpers.scenarios import (
    START,
    base_config,
    base_curve,
    hourly_forecast,
    write_scenario,
)

# The builder's base scenario: 4 one-hour slots; site s1 (PUE 1, idle nodes powered down);
# GPU type G (10 W idle, curve 300 W at full speed / 200 W at half speed); nodes n1, n2 with
# 2 GPUs and 100 W idle each, partition gpu.


def _load(tmp_path, jobs, config=None, forecasts=None, curves=None):
    path = write_scenario(tmp_path / "scenario", config=config, jobs=jobs, forecasts=forecasts,
                          curves=curves)
    return load_scenario(path)


def _at(hours: float) -> str:
    """An ISO time ``hours`` after the builder's start."""
    import pandas as pd

    return (pd.Timestamp(START) + pd.Timedelta(hours=hours)).isoformat()


def a_(job_id, start, end, nodes, limit=300.0):
    """An assignment; ``nodes`` as a tuple of names (or a single name)."""
    if isinstance(nodes, str):
        nodes = (nodes,)
    return Assignment(job_id, start, end, float(limit), tuple(nodes))


def kinds(violations) -> set[str]:
    return {v.kind for v in violations}


def assert_only(violations, kind: str, job_id: str | None = None) -> None:
    """Exactly ``kind`` is reported; when ``job_id`` is given every violation names it."""
    assert violations, f"expected a {kind} violation, got none"
    assert kinds(violations) == {kind}, [str(v) for v in violations]
    for v in violations:
        assert v.kind in VIOLATION_KINDS
        if job_id is not None:
            assert v.job_id == job_id, str(v)
            assert job_id in str(v)


def two_site_config():
    """Base config plus site s2 with nodes m1, m2 (2 GPUs of type G, partition other)."""
    config = base_config()
    config["sites"].append({"name": "s2", "pue": 1.2, "power_down_idle": True,
                            "forecast": "forecast-s2.csv"})
    config["nodes"].append({"names": "m[1-2]", "site": "s2", "gpu_type": "G", "gpus": 2,
                            "idle_w": 100, "partition": "other"})
    return config


def two_site_forecasts():
    return {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300, 300]),
            "forecast-s2.csv": hourly_forecast([20, 20, 20, 20, 20])}


def two_type_config():
    """Base config plus GPU type H on nodes k1, k2 (2 GPUs, site s1)."""
    config = base_config()
    config["gpu_types"].append({"name": "H", "gpu_idle_w": 20, "power_curve": "curve-h.csv"})
    config["nodes"].append({"names": "k[1-2]", "site": "s1", "gpu_type": "H", "gpus": 2,
                            "idle_w": 150, "partition": "gpu"})
    return config


def two_type_curves():
    return {"curve-g.csv": base_curve(),
            "curve-h.csv": [{"workload": "default", "power_limit_w": 300, "power_w": 280,
                             "relative_throughput": 1.0}]}


# --- a valid schedule -------------------------------------------------------------------------


def test_correct_hand_built_schedule_has_no_violations(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 2, "duration_h": 1, "release": _at(1), "deadline": _at(4)},
        {"job_id": "c", "gpus": 1, "duration_h": 1, "depends_on": "a"},
        {"job_id": "d", "gpus": 1, "duration_h": 1, "power_limit_w": 200},
    ])
    schedule = Schedule((
        a_("a", 0, 1, "n1"),
        a_("b", 1, 3, "n2", limit=200),     # half speed: 2 slots
        a_("c", 1, 2, "n1"),                # after a ends, shares n1 with nobody
        a_("d", 2, 4, "n1", limit=200),     # fixed mode, 2 slots
    ))
    assert validate(scenario, schedule) == []


def test_sharing_a_node_up_to_its_gpu_count_is_valid(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1},
    ])
    schedule = Schedule((a_("a", 0, 1, "n1"), a_("b", 0, 1, "n1")))
    assert validate(scenario, schedule) == []


def test_unplaced_jobs_are_accounted_for(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1},
    ])
    schedule = Schedule((a_("a", 0, 1, "n1"),), (Unplaced("b", "no room"),))
    assert validate(scenario, schedule) == []


# --- one test per violation kind ---------------------------------------------------------------


def test_unknown_job(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1"), a_("ghost", 0, 1, "n2")))
    assert_only(validate(scenario, schedule), "unknown_job", "ghost")


def test_unknown_job_listed_unplaced(tmp_path):
    # An unplaced entry names a job too: one the scenario lacks is as wrong as a placed one.
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1"),), (Unplaced("ghost", "no room"),))
    assert_only(validate(scenario, schedule), "unknown_job", "ghost")


def test_duplicate_job_placed_twice(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1"), a_("a", 2, 3, "n2")))
    assert_only(validate(scenario, schedule), "duplicate_job", "a")


def test_duplicate_job_placed_and_unplaced(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1"),), (Unplaced("a", "no room"),))
    assert_only(validate(scenario, schedule), "duplicate_job", "a")


def test_unaccounted_job(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1},
    ])
    schedule = Schedule((a_("a", 0, 1, "n1"),))
    assert_only(validate(scenario, schedule), "unaccounted_job", "b")


def test_unknown_node(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n9"),))
    violations = validate(scenario, schedule)
    assert_only(violations, "unknown_node", "a")
    assert "n9" in str(violations[0])


def test_bad_mode_not_in_curve(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1", limit=250),))
    assert_only(validate(scenario, schedule), "bad_mode", "a")


def test_bad_mode_other_than_the_fixed_power_limit(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "power_limit_w": 200}])
    schedule = Schedule((a_("a", 0, 1, "n1", limit=300),))
    assert_only(validate(scenario, schedule), "bad_mode", "a")


def test_bad_mode_of_another_workload(tmp_path):
    curve = [*base_curve(), {"workload": "other", "power_limit_w": 250, "power_w": 250,
                             "relative_throughput": 1.0}]
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}],
                     curves={"curve-g.csv": curve})
    schedule = Schedule((a_("a", 0, 1, "n1", limit=250),))
    assert_only(validate(scenario, schedule), "bad_mode", "a")


@pytest.mark.parametrize(("end", "limit"), [(2, 300), (1, 200), (3, 200)])
def test_duration_wrong_end_slot(tmp_path, end, limit):
    # 1 h at 300 W takes 1 slot; at 200 W (half speed) 2 slots.
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, end, "n1", limit=limit),))
    assert_only(validate(scenario, schedule), "duration", "a")


def test_duration_rounds_up_a_partial_slot(tmp_path):
    # 1.5 h at half speed = 3 h: exactly 3 slots; 1.2 h at full speed: 2 slots (ceil).
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1.5},
                                {"job_id": "b", "gpus": 1, "duration_h": 1.2}])
    good = Schedule((a_("a", 0, 3, "n1", limit=200), a_("b", 0, 2, "n2")))
    assert validate(scenario, good) == []
    short = Schedule((a_("a", 0, 3, "n1", limit=200), a_("b", 0, 1, "n2")))
    assert_only(validate(scenario, short), "duration", "b")


def test_window_start_before_release(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "release": _at(1.5)}])
    # The release rounds up to slot 2: slot 1 is too early, slot 2 is fine.
    assert validate(scenario, Schedule((a_("a", 2, 3, "n1"),))) == []
    assert_only(validate(scenario, Schedule((a_("a", 1, 2, "n1"),))), "window", "a")


def test_window_end_after_deadline(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "deadline": _at(2.5)}])
    # The deadline rounds down to slot boundary 2.
    assert validate(scenario, Schedule((a_("a", 1, 2, "n1"),))) == []
    assert_only(validate(scenario, Schedule((a_("a", 2, 3, "n1"),))), "window", "a")


def test_window_past_the_horizon(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    assert_only(validate(scenario, Schedule((a_("a", 4, 5, "n1"),))), "window", "a")


def test_placement_one_gpu_job_on_two_nodes(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, ("n1", "n2")),))
    assert_only(validate(scenario, schedule), "placement", "a")


def test_placement_on_no_node(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((Assignment("a", 0, 1, 300.0, ()),))
    # Must be reported as a placement violation, not crash the validator.
    assert_only(validate(scenario, schedule), "placement", "a")


def test_multi_node_job_on_two_whole_nodes_is_valid(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 4, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, ("n1", "n2")),))
    assert validate(scenario, schedule) == []


@pytest.mark.parametrize("nodes", [("n1",), ("n1", "n1"), ("n1", "n2", "m1")])
def test_placement_multi_node_job_on_wrong_node_count(tmp_path, nodes):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 4, "duration_h": 1}],
                     config=two_site_config(), forecasts=two_site_forecasts())
    schedule = Schedule((a_("a", 0, 1, nodes),))
    assert_only(validate(scenario, schedule), "placement", "a")


def test_placement_multi_node_job_across_sites(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 4, "duration_h": 1}],
                     config=two_site_config(), forecasts=two_site_forecasts())
    assert validate(scenario, Schedule((a_("a", 0, 1, ("m1", "m2")),))) == []
    schedule = Schedule((a_("a", 0, 1, ("n1", "m1")),))
    assert_only(validate(scenario, schedule), "placement", "a")


def test_placement_multi_node_job_across_gpu_types(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 4, "duration_h": 1}],
                     config=two_type_config(), curves=two_type_curves())
    assert validate(scenario, Schedule((a_("a", 0, 1, ("k1", "k2")),))) == []
    schedule = Schedule((a_("a", 0, 1, ("n1", "k1")),))
    assert_only(validate(scenario, schedule), "placement", "a")


def test_placement_gpu_count_not_a_multiple_of_the_node(tmp_path):
    """3 GPUs fit one 4-GPU node (so the job loads) but not one or two 2-GPU nodes."""
    config = base_config()
    config["nodes"].append({"names": "w1", "site": "s1", "gpu_type": "G", "gpus": 4,
                            "idle_w": 100, "partition": "gpu"})
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 3, "duration_h": 1}], config=config)
    assert validate(scenario, Schedule((a_("a", 0, 1, ("w1",)),))) == []
    for nodes in (("n1",), ("n1", "n2")):
        assert_only(validate(scenario, Schedule((a_("a", 0, 1, nodes),))), "placement", "a")


def test_restriction_wrong_site(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1, "site": "s2"}],
                     config=two_site_config(), forecasts=two_site_forecasts())
    assert validate(scenario, Schedule((a_("a", 0, 1, "m1"),))) == []
    violations = validate(scenario, Schedule((a_("a", 0, 1, "n1"),)))
    assert_only(violations, "restriction", "a")
    assert "site" in str(violations[0])


def test_restriction_wrong_gpu_type(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1, "gpu_type": "H"}],
                     config=two_type_config(), curves=two_type_curves())
    assert validate(scenario, Schedule((a_("a", 0, 1, "k1"),))) == []
    violations = validate(scenario, Schedule((a_("a", 0, 1, "n1"),)))
    assert_only(violations, "restriction", "a")
    assert "gpu_type" in str(violations[0])


def test_restriction_wrong_partition(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "partition": "other"}],
                     config=two_site_config(), forecasts=two_site_forecasts())
    assert validate(scenario, Schedule((a_("a", 0, 1, "m2"),))) == []
    violations = validate(scenario, Schedule((a_("a", 0, 1, "n2"),)))
    assert_only(violations, "restriction", "a")
    assert "partition" in str(violations[0])


def test_capacity_two_full_node_jobs_on_one_node(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 2, "duration_h": 1},
        {"job_id": "b", "gpus": 2, "duration_h": 1},
    ])
    schedule = Schedule((a_("a", 0, 1, "n1"), a_("b", 0, 1, "n1")))
    violations = validate(scenario, schedule)
    assert_only(violations, "capacity")
    message = str(violations[0])
    assert "n1" in message and "a" in message and "b" in message
    # Back to back on the same node is fine.
    assert validate(scenario, Schedule((a_("a", 0, 1, "n1"), a_("b", 1, 2, "n1")))) == []


def test_capacity_overlap_in_a_later_slot_only(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 2, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1},
    ])
    # a runs slots 0-1 at half speed, b (1 GPU) joins n1 in slot 1: 3 GPUs of 2.
    schedule = Schedule((a_("a", 0, 2, "n1", limit=200), a_("b", 1, 2, "n1")))
    violations = validate(scenario, schedule)
    assert_only(violations, "capacity")
    assert "slot 1" in str(violations[0])


def test_capacity_multi_node_job_overlapping_a_single_node_job(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "big", "gpus": 4, "duration_h": 1},
        {"job_id": "small", "gpus": 1, "duration_h": 1},
    ])
    schedule = Schedule((a_("big", 0, 1, ("n1", "n2")), a_("small", 0, 1, "n2")))
    violations = validate(scenario, schedule)
    assert_only(violations, "capacity")
    assert "n2" in str(violations[0])


def test_maintenance(tmp_path):
    config = base_config()
    config["nodes"][0]["unavailable"] = [{"from": _at(1), "to": _at(2)}]
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}], config=config)
    assert validate(scenario, Schedule((a_("a", 2, 3, "n1"),))) == []
    # Half speed from slot 0 runs slots 0 and 1: slot 1 is under maintenance.
    violations = validate(scenario, Schedule((a_("a", 0, 2, "n1", limit=200),)))
    assert_only(violations, "maintenance", "a")
    assert "slot 1" in str(violations[0])


def test_maintenance_window_partly_covering_a_slot_blocks_it(tmp_path):
    config = base_config()
    config["nodes"][0]["unavailable"] = [{"from": _at(2.5), "to": _at(2.75)}]
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}], config=config)
    assert_only(validate(scenario, Schedule((a_("a", 2, 3, "n1"),))), "maintenance", "a")


def test_dependency_starts_before_its_dependency_ends(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1, "depends_on": "a"},
    ])
    # a runs slots 0-1 (half speed); b may start at 2, not 1.
    assert validate(scenario, Schedule((a_("a", 0, 2, "n1", limit=200),
                                        a_("b", 2, 3, "n2")))) == []
    schedule = Schedule((a_("a", 0, 2, "n1", limit=200), a_("b", 1, 2, "n2")))
    assert_only(validate(scenario, schedule), "dependency", "b")


def test_dependency_on_an_unplaced_job(tmp_path):
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1, "depends_on": "a"},
    ])
    schedule = Schedule((a_("b", 2, 3, "n2"),), (Unplaced("a", "no room"),))
    assert_only(validate(scenario, schedule), "dependency", "b")


def test_pinned_moved_in_time(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "pinned_start": _at(1), "pinned_nodes": "n1"}])
    assert validate(scenario, Schedule((a_("a", 1, 2, "n1"),))) == []
    assert_only(validate(scenario, Schedule((a_("a", 2, 3, "n1"),))), "pinned", "a")


def test_pinned_moved_to_other_nodes(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1,
                                 "pinned_start": _at(1), "pinned_nodes": "n1"}])
    assert_only(validate(scenario, Schedule((a_("a", 1, 2, "n2"),))), "pinned", "a")


def test_pinned_running_job_started_before_the_horizon(tmp_path):
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 2,
                                 "pinned_start": _at(-1), "pinned_nodes": "n1"}])
    assert validate(scenario, Schedule((a_("a", -1, 1, "n1"),))) == []
    assert_only(validate(scenario, Schedule((a_("a", 0, 2, "n1"),))), "pinned", "a")


def test_power_cap(tmp_path):
    # A full 2-GPU node at 300 W draws 100 + 2 * 300 = 700 W; PUE 1.25 -> 0.875 kW.
    config = base_config()
    config["sites"][0]["power_cap_kw"] = 1.5
    config["sites"][0]["pue"] = 1.25
    scenario = _load(tmp_path, [
        {"job_id": "a", "gpus": 2, "duration_h": 1},
        {"job_id": "b", "gpus": 2, "duration_h": 1},
    ], config=config)
    # One after the other: 0.875 kW per slot, under the cap.
    assert validate(scenario, Schedule((a_("a", 0, 1, "n1"), a_("b", 1, 2, "n2")))) == []
    # Both at once: 1.75 kW > 1.5 kW.
    violations = validate(scenario, Schedule((a_("a", 0, 1, "n1"), a_("b", 0, 1, "n2"))))
    assert_only(violations, "power_cap")
    assert "s1" in str(violations[0])
    # At half speed both fit: 2 * (100 + 400) W * 1.25 = 1.25 kW.
    assert validate(scenario, Schedule((a_("a", 0, 2, "n1", limit=200),
                                        a_("b", 0, 2, "n2", limit=200)))) == []


def test_power_cap_counts_always_on_idle_nodes(tmp_path):
    # power_down_idle false: the idle n2 draws 100 + 2 * 10 = 120 W all the time.
    config = base_config()
    config["sites"][0]["power_down_idle"] = False
    config["sites"][0]["power_cap_kw"] = 0.8
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 2, "duration_h": 1}], config=config)
    # a: 700 W + idle n2 120 W = 0.82 kW > 0.8 kW.
    assert_only(validate(scenario, Schedule((a_("a", 0, 1, "n1"),))), "power_cap")
    # At half speed: 500 + 120 = 0.62 kW.
    assert validate(scenario, Schedule((a_("a", 0, 2, "n1", limit=200),))) == []


def test_power_cap_ignores_transfer_energy(tmp_path):
    # The cap bounds node draw only: a large data transfer at the start slot does not count.
    config = two_site_config()
    config["transfer_kwh_per_gb"] = 1.0
    config["sites"][0]["power_cap_kw"] = 1.0
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 2, "duration_h": 1, "data_gb": 100,
                                 "data_site": "s2"}],
                     config=config, forecasts=two_site_forecasts())
    assert validate(scenario, Schedule((a_("a", 0, 1, "n1"),))) == []


@pytest.mark.parametrize(("key", "budget", "ok"), [
    # One 1-GPU hour in slot 0: 410 W x 1 h = 0.41 kWh, carbon 0.41 x 100 g = 0.041 kg.
    ("energy_budget_kwh", 0.41, True), ("energy_budget_kwh", 0.40, False),
    ("carbon_budget_kg", 0.041, True), ("carbon_budget_kg", 0.0409, False),
])
def test_budget(tmp_path, key, budget, ok):
    config = base_config()
    config["sites"][0][key] = budget
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}], config=config)
    violations = validate(scenario, Schedule((a_("a", 0, 1, "n1"),)))
    if ok:
        assert violations == []
    else:
        assert_only(violations, "budget")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_totals_are_a_violation(tmp_path, value):
    """Issue 19: huge inputs once priced a plan at NaN and wrote it with exit 0. The loader's
    bounds now stop such inputs; the validator still refuses figures that are not finite."""
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    schedule = Schedule((a_("a", 0, 1, "n1"),))
    figures = account(scenario, schedule)
    spoilt = dataclasses.replace(figures, totals={**figures.totals, "carbon_kg": value})
    assert validate(scenario, schedule, figures) == []
    assert_only(validate(scenario, schedule, spoilt), "non_finite")


def test_every_kind_has_a_test():
    tested = {"unknown_job", "duplicate_job", "unaccounted_job", "unknown_node", "bad_mode",
              "duration", "window", "placement", "restriction", "capacity", "maintenance",
              "dependency", "pinned", "power_cap", "budget", "totals", "non_finite",
              "start_ups"}  # start_ups: tests/model/test_start_up_energy.py
    assert tested == set(VIOLATION_KINDS)


# --- totals (check_totals) against hand-worked figures -----------------------------------------


def _totals_scenario(tmp_path):
    config = base_config()
    config["sites"][0]["pue"] = 1.5
    forecasts = {"forecast-s1.csv": hourly_forecast(
        [100, 200, 50, 300, 300], price=[80, 90, 100, 110, 120],
        renewable=[0.2, 0.0, 0.0, 0.0, 0.0])}
    scenario = _load(tmp_path, [{"job_id": "a", "gpus": 1, "duration_h": 1}], config=config,
                     forecasts=forecasts)
    return scenario, Schedule((a_("a", 0, 1, "n1"),))


def _hand_totals() -> dict[str, float]:
    # Slot 0: n1 draws 100 (node) + 300 (a's GPU) + 10 (its idle GPU) = 410 W; n2 is
    # powered down. E = 1.5 * 410 / 1000 * 1 h = 0.615 kWh. R = 0.2 kW * 1 h = 0.2 kWh,
    # G = 0.415 kWh. Slots 1-3: every node powered down, E = G = 0.
    # Carbon 0.415 * 100 / 1000 kg; cost 0.415 * 80 / 1000.
    return {"energy_kwh": 0.615, "grid_kwh": 0.415, "renewable_kwh": 0.2,
            "carbon_kg": 0.0415, "cost": 0.0332}


def test_accounting_matches_hand_worked_totals(tmp_path):
    scenario, schedule = _totals_scenario(tmp_path)
    fresh = account(scenario, schedule).totals
    for key, value in _hand_totals().items():
        assert math.isclose(fresh[key], value, rel_tol=1e-12), key


def test_check_totals_accepts_exact_figures(tmp_path):
    scenario, schedule = _totals_scenario(tmp_path)
    assert check_totals(scenario, schedule, _hand_totals()) == []


@pytest.mark.parametrize("key", TOTAL_KEYS)
def test_check_totals_rejects_a_total_off_by_1e_3_relative(tmp_path, key):
    scenario, schedule = _totals_scenario(tmp_path)
    reported = _hand_totals()
    reported[key] *= 1 + 1e-3
    violations = check_totals(scenario, schedule, reported)
    assert_only(violations, "totals")
    assert len(violations) == 1
    assert key in str(violations[0])


@pytest.mark.parametrize("key", TOTAL_KEYS)
def test_check_totals_accepts_a_total_off_by_1e_8_relative(tmp_path, key):
    scenario, schedule = _totals_scenario(tmp_path)
    reported = _hand_totals()
    reported[key] *= 1 + 1e-8
    assert check_totals(scenario, schedule, reported) == []


def test_check_totals_reports_a_missing_total(tmp_path):
    scenario, schedule = _totals_scenario(tmp_path)
    reported = _hand_totals()
    del reported["cost"]
    violations = check_totals(scenario, schedule, reported)
    assert_only(violations, "totals")
    assert "cost" in str(violations[0])
