"""``greenslot report``: a self-contained page that a real browser renders completely."""

from __future__ import annotations

import base64
import json
import re

import pytest

from greenslot.cli import main
from greenslot.model import hostlist
from tests.helpers.analysts import two_sites
from tests.helpers.chromium import render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A plan of the two-site scenario (pinned, dependent, unplaced jobs) and its report."""
    root = tmp_path_factory.mktemp("report")
    scenario = two_sites(root / "scenario")
    plan_dir = root / "plan"
    assert main(["plan", str(scenario), "--out", str(plan_dir), "-q"]) == 0
    assert main(["report", str(plan_dir)]) == 0
    return root, scenario, plan_dir


def test_report_writes_page_and_pngs(reported):
    _, _, plan_dir = reported
    names = {p.name for p in plan_dir.glob("*.png")}
    assert names == {"gantt.png", "totals.png", "power-west.png", "power-east.png"}
    for name in names:
        assert (plan_dir / name).read_bytes().startswith(PNG_MAGIC)
    page = (plan_dir / "report.html").read_text()
    embedded = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert sorted(base64.b64decode(e) for e in embedded) == sorted(
        (plan_dir / n).read_bytes() for n in names)


def test_report_needs_nothing_from_outside(reported):
    page = (reported[2] / "report.html").read_text()
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert references and all(r.startswith("data:") for r in references), references
    assert "<script" not in page and "@import" not in page and "url(" not in page


@pytest.mark.chromium
def test_report_renders_in_chromium_with_every_image_and_no_errors(reported):
    root, _, plan_dir = reported
    seen = render(plan_dir / "report.html", root)
    assert len(seen.images) == 4
    assert all(image["ok"] and image["width"] > 300 for image in seen.images), seen.images
    assert seen.errors == [] and seen.console == [], (seen.errors, seen.console)


@pytest.mark.chromium
def test_probe_catches_broken_images_and_console_errors(tmp_path):
    """The browser check can fail: a broken image, a remote image and a console error."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body>'
                    '<img src="data:image/png;base64,AAAA">'
                    '<img src="https://example.invalid/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    seen = render(page, tmp_path)
    assert [image["ok"] for image in seen.images] == [False, False]
    assert "boom" in seen.errors and len(seen.console) == 1


def test_report_tables_show_totals_moves_and_unplaced_jobs(reported):
    _, _, plan_dir = reported
    page = (plan_dir / "report.html").read_text()
    summary = json.loads((plan_dir / "summary.json").read_text())
    assert f"{summary['totals']['carbon_kg']:.4g}" in page
    assert f"{summary['baselines']['fifo']['carbon_kg']:.4g}" in page
    assert "unplaced: window too short" in page  # job huge, with its reason
    rows = re.findall(r"<tr(?: class=\"[^\"]*\")?><td class=\"text\">([^<]+)</td>", page)
    job_ids = {row for row in rows if row in {"pin", "a", "b", "c", "d", "huge"}}
    assert job_ids == {"pin", "a", "b", "c", "d", "huge"}


@pytest.mark.slow
def test_report_of_a_plan_with_overrides_uses_the_edited_scenario(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    plan_dir = tmp_path / "p"
    assert main(["plan", str(scenario), "--out", str(plan_dir), "-q",
                 "--set", "nodes.w1.unavailable=true"]) == 0
    assert main(["report", str(plan_dir)]) == 0
    page = (plan_dir / "report.html").read_text()
    assert "nodes.w1.unavailable=true" in page
    cells = re.findall(r'<td class="text">([^<]*)</td><td class="text">([^<]*)</td>'
                       r'<td class="text">([^<]*)</td>', page)
    used = {node for _, _, nodes in cells if nodes for node in hostlist.expand(nodes)}
    assert used and "w1" not in used, used


def test_report_refuses_a_plan_that_breaks_its_scenario(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    plan_dir = tmp_path / "p"
    assert main(["plan", str(scenario), "--out", str(plan_dir), "-q"]) == 0
    capsys.readouterr()
    summary = json.loads((plan_dir / "summary.json").read_text())
    summary["overrides"] = {"sites.west.power_cap_kw": "0.2"}  # the plan draws more than this
    (plan_dir / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(plan_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[bad_plan]" in err and "validate" in err, err
    assert not list(plan_dir.glob("report.html")) and not list(plan_dir.glob("*.png"))


@pytest.mark.slow
def test_report_finds_a_moved_scenario_with_the_option(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    plan_dir = tmp_path / "p"
    assert main(["plan", str(scenario), "--out", str(plan_dir), "-q"]) == 0
    scenario.parent.rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["report", str(plan_dir)]) == 2
    assert "scenario file not found" in capsys.readouterr().err
    assert main(["report", str(plan_dir), "--scenario", str(tmp_path / "moved")]) == 0
    assert (plan_dir / "report.html").is_file()
