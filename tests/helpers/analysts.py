"""Small scenarios for the analysts' tests, written to disk so the real loader runs.

``two_sites`` has what a held-out scenario may have: two sites (one with zero renewables, one
powering idle nodes down), a pinned job, a dependency, a deadline, and a job that cannot fit.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.scenarios import START, base_config, base_curve, hourly_forecast, write_scenario


def conflict_scenario(folder: Path) -> Path:
    """One 1-GPU, 1-hour job; slot 0 is clean but dear, slot 1 dirty but cheap."""
    return write_scenario(
        folder,
        jobs=[{"job_id": "a", "gpus": 1, "duration_h": 1}],
        forecasts={"forecast-s1.csv": hourly_forecast([100, 300, 400, 400, 400],
                                                      price=[300, 100, 400, 400, 400])},
    )


def cap_scenario(folder: Path) -> Path:
    """Two 1-GPU, 1-hour jobs that both want the clean slot 2 unless a power cap parts them."""
    return write_scenario(folder, jobs=[{"job_id": "a", "gpus": 1, "duration_h": 1},
                                        {"job_id": "b", "gpus": 1, "duration_h": 1}])


def two_sites(folder: Path) -> Path:
    """Two sites, 8 slots of 1 h, pinned, dependent, deadline-bound and unplaceable jobs."""
    config = base_config()
    config["horizon"] = "8h"
    config["sites"] = [
        {"name": "west", "pue": 1.2, "power_down_idle": True, "power_cap_kw": 2.0,
         "forecast": "forecast-west.csv"},
        {"name": "east", "pue": 1.4, "power_down_idle": False, "forecast": "forecast-east.csv"},
    ]
    config["nodes"] = [
        {"names": "w[1-2]", "site": "west", "gpu_type": "G", "gpus": 2, "idle_w": 100},
        {"names": "e1", "site": "east", "gpu_type": "G", "gpus": 2, "idle_w": 120,
         "unavailable": [{"from": "2022-06-14T05:00:00+00:00",
                          "to": "2022-06-14T06:00:00+00:00"}]},
    ]
    jobs = [
        {"job_id": "pin", "gpus": 2, "duration_h": 2, "pinned_start": START,
         "pinned_nodes": "e1"},
        {"job_id": "a", "gpus": 1, "duration_h": 2, "deadline": "2022-06-14T06:00:00+00:00"},
        {"job_id": "b", "gpus": 2, "duration_h": 1, "depends_on": "a"},
        {"job_id": "c", "gpus": 4, "duration_h": 3, "site": "west"},
        {"job_id": "d", "gpus": 1, "duration_h": 1.5, "data_gb": 10, "data_site": "east"},
        {"job_id": "huge", "gpus": 2, "duration_h": 20},
    ]
    config["transfer_kwh_per_gb"] = 0.01
    west = hourly_forecast([300, 250, 120, 90, 80, 150, 260, 310, 320],
                           price=[90, 80, 60, 50, 70, 110, 150, 160, 160],
                           renewable=[0, 0, 0.3, 0.8, 1.0, 0.6, 0.1, 0, 0])
    east = hourly_forecast([400, 380, 390, 410, 420, 400, 380, 370, 360],
                           price=[40, 40, 45, 50, 55, 60, 50, 45, 40])
    return write_scenario(folder, config, jobs,
                          forecasts={"forecast-west.csv": west, "forecast-east.csv": east},
                          curves={"curve-g.csv": base_curve()})
