"""Reservations: the planner keeps the capacity free, and ``submit`` makes Slurm hold it."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
import yaml

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import hostlist
from tests.helpers.slurm import local, plan_into, run_submit_sh, slurm_scenario

# Enough work to spill onto every node if nothing were held back.
BUSY = [{"job_id": f"j{i}", "gpus": 4, "duration_h": 1, "command": "true"} for i in range(12)]


def _with_reservation(tmp_path, reservation: dict, jobs=BUSY):
    probe = slurm_scenario(tmp_path / "probe", jobs)
    start = pd.Timestamp(yaml.safe_load(probe.read_text())["start"])
    entry = {"name": "urgent", "start": start.isoformat(), "duration": "3h", **reservation}
    return slurm_scenario(tmp_path / "s", jobs, extra={"reservations": [entry]}), start


def _nodes_busy_in(schedule: pd.DataFrame, begin, end) -> set[str]:
    busy = set()
    for _, row in schedule.iterrows():
        if pd.Timestamp(row["start"]) < end and pd.Timestamp(row["end"]) > begin:
            busy.update(hostlist.expand(row["nodes"]))
    return busy


@pytest.mark.parametrize("reservation, held", [({"nodes": "gsnode3"}, {"gsnode3"}),
                                               ({"gpus": 5}, {"gsnode2", "gsnode3"})])
def test_the_planner_keeps_reserved_nodes_free(tmp_path, reservation, held):
    path, start = _with_reservation(tmp_path, reservation)
    scenario = load_scenario(path)
    assert scenario.reservations[0].nodes == tuple(sorted(held))
    schedule = plan_into(path, tmp_path / "plan")
    end = start + pd.Timedelta(hours=3)
    assert not _nodes_busy_in(schedule, start, end) & held
    assert _nodes_busy_in(schedule, start, end)  # the rest of the cluster is used meanwhile
    assert _nodes_busy_in(schedule, end, end + pd.Timedelta(hours=5)) & held  # free after


@pytest.mark.parametrize("reservation, field", [
    ({"nodes": "gsnode9"}, "'nodes'"),
    ({"gpus": 13}, "'gpus'"),
    ({"nodes": "gsnode1", "gpus": 4}, "'nodes'"),
    ({"nodes": "gsnode1", "name": "bad name"}, "'name'"),
])
def test_a_bad_reservation_is_one_line_naming_its_field(tmp_path, capsys, reservation, field):
    path, _ = _with_reservation(tmp_path, reservation)
    assert main(["plan", str(path), "--out", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reservations[0]" in err and field in err, err
    assert not (tmp_path / "plan").exists()


def _reservation(slurm, name="greenslot-urgent") -> dict[str, str]:
    text = slurm.run("scontrol", "-o", "show", "reservation", name).stdout
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


@pytest.mark.parametrize("how", ["greenslot submit", "submit.sh"])
def test_submit_creates_the_slurm_reservation_once(slurm, tmp_path, capsys, how):
    path, start = _with_reservation(tmp_path, {"nodes": "gsnode3"}, jobs=BUSY[:2])
    plan_into(path, tmp_path / "plan")
    for attempt in ("first", "second"):
        if how == "submit.sh":
            done = run_submit_sh(tmp_path / "plan")
            assert done.returncode == 0, done.stderr
            out = done.stdout
        else:
            assert main(["submit", str(tmp_path / "plan")]) == 0
            out = capsys.readouterr().out
        word = "created" if attempt == "first" else ("exists" if how == "submit.sh"
                                                      else "unchanged")
        assert f"reservation greenslot-urgent: {word}" in out
    held = _reservation(slurm)
    assert held["Nodes"] == "gsnode3"
    assert held["StartTime"] == local(start.isoformat())
    assert held["EndTime"] == local((start + timedelta(hours=3)).isoformat())


def test_submit_moves_a_reservation_whose_time_changed(slurm, tmp_path, capsys):
    path, start = _with_reservation(tmp_path, {"nodes": "gsnode3"}, jobs=BUSY[:1])
    plan_into(path, tmp_path / "plan")
    assert main(["submit", str(tmp_path / "plan")]) == 0
    config = yaml.safe_load(path.read_text())
    config["reservations"][0]["start"] = (start + timedelta(hours=1)).isoformat()
    config["reservations"][0]["nodes"] = "gsnode[2-3]"
    path.write_text(yaml.safe_dump(config))
    plan_into(path, tmp_path / "plan2")
    capsys.readouterr()
    assert main(["submit", str(tmp_path / "plan2")]) == 0
    assert "reservation greenslot-urgent: updated" in capsys.readouterr().out
    held = _reservation(slurm)
    assert held["Nodes"] == "gsnode[2-3]"
    assert held["StartTime"] == local((start + timedelta(hours=1)).isoformat())
