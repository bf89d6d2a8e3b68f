"""`greenslot curves from-zeus` on the real Zeus A40 summary shipped under tests/curves/zeus."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from greenslot.cli import main
from greenslot.power.curves import CurveError, CurveRow, drop_dominated, import_zeus
from greenslot.power.curves.table import read_curve

HERE = Path(__file__).parent
A40 = HERE / "zeus" / "summary_power_a40.csv"
REPO = HERE.parents[1]


def raw_rows(dataset: str, network: str, batch: int) -> dict[float, tuple[float, float]]:
    """power_limit -> (average_power, time_per_epoch), read without greenslot."""
    with A40.open(newline="") as handle:
        return {float(r["power_limit"]): (float(r["average_power"]), float(r["time_per_epoch"]))
                for r in csv.DictReader(handle)
                if (r["dataset"], r["network"], int(r["batch_size"])) == (dataset, network, batch)}


def test_a40_gives_at_least_four_workloads_of_five_measured_modes():
    imported = import_zeus(A40)
    counts: dict[str, int] = {}
    for row in imported.rows:
        counts[row.workload] = counts.get(row.workload, 0) + 1
    assert sum(n >= 5 for n in counts.values()) >= 4
    assert counts == {"shufflenetv2": 9, "resnet50": 9, "deepspeech2": 9, "ncf": 9, "bert": 9,
                      "bert_base_uncased-sentiment140": 5}
    # Zeus's default batch sizes, deepspeech2's 256 capped at the largest measured (192).
    assert {w: s[3] for w, s in imported.sources.items()} == {
        "shufflenetv2": 1024, "resnet50": 256, "deepspeech2": 192, "ncf": 1024, "bert": 32,
        "bert_base_uncased-sentiment140": 256}


def test_power_values_are_the_measured_ones_and_throughput_is_epoch_time_ratio():
    imported = import_zeus(A40)
    pairs = {"resnet50": ("imagenet", "resnet50", 256), "bert": ("squad", "bert_base_uncased", 32),
             "deepspeech2": ("librispeech", "deepspeech2", 192),
             "shufflenetv2": ("cifar100", "shufflenetv2", 1024),
             "ncf": ("movielens-1m", "ncf", 1024)}
    for workload, key in pairs.items():
        raw = raw_rows(*key)
        rows = [r for r in imported.rows if r.workload == workload]
        assert {r.power_limit_w for r in rows} == set(raw)
        fastest = min(t for _, t in raw.values())
        for row in rows:
            power, epoch_s = raw[row.power_limit_w]
            assert row.power_w == pytest.approx(power, abs=0.005)
            assert row.relative_throughput == pytest.approx(fastest / epoch_s, abs=5e-7)


def test_known_values_resnet50_on_a40():
    rows = {r.power_limit_w: r for r in import_zeus(A40).rows if r.workload == "resnet50"}
    # summary_power_a40.csv: imagenet/resnet50/256 at 300 W: 3847.48 s, 235.205379 W;
    # at 200 W: 4123.52 s, 177.583083 W; at 100 W: 10606.19 s, 120.738482 W.
    assert rows[300].power_w == 235.21 and rows[300].relative_throughput == 1.0
    assert rows[200].power_w == 177.58 and rows[200].relative_throughput == 0.933057
    assert rows[100].power_w == 120.74 and rows[100].relative_throughput == 0.362758


def test_reproduces_the_shipped_a40_curve():
    """data/curves/a40.csv = Zeus workloads, dominated rows dropped (at least 3 kept), default."""
    zeus_pairs = ("resnet50", "bert", "deepspeech2", "shufflenetv2", "ncf")
    rows = drop_dominated([r for r in import_zeus(A40).rows if r.workload in zeus_pairs], 3)
    rows += [CurveRow("default", r.power_limit_w, r.power_w, r.relative_throughput)
             for r in rows if r.workload == "resnet50"]
    shipped = read_curve(REPO / "data" / "curves" / "a40.csv")
    key = lambda r: (r.workload, r.power_limit_w)  # noqa: E731
    assert sorted(rows, key=key) == sorted(shipped, key=key)


def test_batch_size_option_picks_that_batch_and_skips_workloads_without_it():
    imported = import_zeus(A40, batch_size=8)
    assert {s[3] for s in imported.sources.values()} == {8}
    assert len(imported.sources) == 6 and not imported.skipped
    imported = import_zeus(A40, batch_size=1024)
    assert set(imported.sources) == {"shufflenetv2", "ncf"}
    assert any(note.startswith("imagenet/resnet50/adadelta: batch size 1024 not measured")
               for note in imported.skipped)
    with pytest.raises(CurveError, match="no workload left"):
        import_zeus(A40, batch_size=3)


def test_not_a_zeus_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("dataset,network\nimagenet,resnet50\n")
    with pytest.raises(CurveError, match="missing column 'batch_size'"):
        import_zeus(bad)
    bad.write_text(A40.read_text().replace("106.88881213499654", "n/a", 1))
    with pytest.raises(CurveError, match=r"line 2, field 'average_power'"):
        import_zeus(bad)


def test_cli_from_zeus_writes_a_loadable_curve(tmp_path, capsys):
    out = tmp_path / "a40.csv"
    assert main(["curves", "from-zeus", str(A40), "--out", str(out), "--drop-dominated",
                 "--min-modes", "3", "--default-workload", "resnet50"]) == 0
    rows = read_curve(out)
    assert {r.workload for r in rows} >= {"default", "resnet50", "bert"}
    assert "wrote" in capsys.readouterr().out


def test_cli_from_zeus_errors_exit_2_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "a40.csv"
    assert main(["curves", "from-zeus", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "file not found" in err[0]
    assert main(["curves", "from-zeus", str(A40), "--out", str(tmp_path / "no" / "a.csv")]) == 2
    assert main(["curves", "from-zeus", str(A40), "--out", str(out),
                 "--default-workload", "nope"]) == 2
    assert not out.exists() and list(tmp_path.iterdir()) == []
