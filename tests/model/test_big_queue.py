"""Loading a big queue: the caches that make 200,000 rows load in seconds hide no error.

Why: the row reader parses each distinct time, number, script and pinned hostlist once
(``benchmarks/load_jobs.py`` measures the speed; no test here is timed). A cache that kept a
failure, or checked a value only under the field it first met, would let a bad row through or
name the wrong row. Each test puts the bad row after thousands of good rows sharing its texts.
"""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.errors import ScenarioError
from tests.helpers.scenarios import START, base_config, write_scenario

ROWS = 3000


def queue(n: int = ROWS) -> list[dict]:
    return [{"job_id": f"j{i}", "gpus": 1 + i % 2, "duration_h": 1 + (i % 3) / 2,
             "release": START, "priority": 1 + i % 4, "data_gb": i % 7}
            for i in range(n)]


def load(tmp_path, jobs):
    return load_scenario(write_scenario(tmp_path / "s", base_config(), jobs))


def test_a_big_queue_loads_every_row_with_its_values(tmp_path):
    scenario = load(tmp_path, queue())
    assert len(scenario.jobs) == ROWS
    job = scenario.job("j2999")
    assert (job.gpus, job.duration_h, job.priority, job.data_gb, job.line) == (2, 2.0, 4, 3,
                                                                                 ROWS + 1)
    assert job.release == scenario.job("j0").release


@pytest.mark.parametrize(("field", "value", "check"), [
    ("release", "2022-06-14T01:00:00", "naive_time"),
    ("release", "2250-01-01T00:00:00+00:00", "time_out_of_range"),
    ("gpus", "1e30", "bad_number"),
    ("duration_h", "1e-300", "bad_number"),
    ("priority", "nan", "bad_number"),
    ("job_id", "j 1", "bad_name"),
])
def test_the_first_bad_row_after_many_good_ones_is_named(tmp_path, field, value, check):
    jobs = queue()
    jobs[-1][field] = value
    jobs[-2][field] = value  # a second bad row: the first one is named
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, jobs)
    assert caught.value.check == check
    assert caught.value.location.row == f"line {ROWS}" and caught.value.location.field == field


def test_a_value_good_for_one_field_is_still_checked_for_another(tmp_path):
    """``0`` is a fine data_gb; as a priority it is fine too, but not as gpus."""
    jobs = queue()
    jobs[5]["data_gb"] = 0
    jobs[6]["gpus"] = 0
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, jobs)
    assert caught.value.location.row == "line 8" and caught.value.location.field == "gpus"


def test_a_duplicate_far_down_names_both_lines(tmp_path):
    jobs = queue()
    jobs[-1]["job_id"] = "j3"
    with pytest.raises(ScenarioError, match=r"also on line 5") as caught:
        load(tmp_path, jobs)
    assert caught.value.location.row == f"line {ROWS + 1}"
