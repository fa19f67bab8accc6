"""``analogeq sweep run/status/export/plot`` (called in process), the progress bar, errors."""

from __future__ import annotations

import csv
import json

import pytest
from fixtures_sweeps import spec_toml, write_spec

from analogeq.commands.sweep import main
from analogeq.sweeps import load_spec, run_sweep

SPEC = spec_toml(
    "cli", seeds="[0, 1]",
    axes='"device.read_noise_scale" = [0.0, 2.0]\ndrift_time_s = [10.0, 1000.0]',
    evaluations="[evaluations.conductance_error]\nn_cells = 256",
)


@pytest.fixture()
def spec_path(tmp_path):
    return write_spec(tmp_path, SPEC)


def test_run_status_export_plot(tmp_path, spec_path, capsys):
    db = tmp_path / "s.db"
    assert main(["run", str(spec_path), "--db", str(db), "--no-progress"]) == 0
    assert "sweep cli: 8 points, 0 already done, ran 8 (ok 8, skipped 0, error 0)" in capsys.readouterr().out
    assert main(["run", str(spec_path), "--db", str(db)]) == 0
    assert "8 already done, ran 0" in capsys.readouterr().out

    assert main(["status", "--db", str(db), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["results"] == 8
    (sweep,) = status["sweeps"]
    assert (sweep["name"], sweep["planned"], sweep["ok"], sweep["pending"], sweep["runs"]) == ("cli", 8, 8, 0, 2)
    assert main(["status", "--db", str(db)]) == 0
    assert "| cli | 8 | 8 | 0 | 0 | 0 | 2 |" in capsys.readouterr().out

    out_csv = tmp_path / "out" / "r.csv"
    assert main(["export", "--db", str(db), "--csv", str(out_csv)]) == 0
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert list(rows[0])[:8] == ["sweep", "key", "evaluation", "substrate", "seed", "device.read_noise_scale",
                                 "drift_time_s", "status"]
    assert {r["status"] for r in rows} == {"ok"} and all(float(r["mean_abs_error_rel"]) > 0 for r in rows)
    assert {(r["device.read_noise_scale"], r["drift_time_s"], r["seed"]) for r in rows} == {
        (n, t, s) for n in ("0.0", "2.0") for t in ("10.0", "1000.0") for s in ("0", "1")}

    plots = tmp_path / "plots"
    assert main(["plot", "--db", str(db), "--out", str(plots)]) == 0
    assert "wrote 3 plots" in capsys.readouterr().out  # two axes: two line plots, one heat map
    assert len(list(plots.glob("*.png"))) == 3 and (plots / "report.md").exists()
    assert main(["plot", "--db", str(db), "--out", str(plots), "--no-heatmaps", "--metric", "rms_error_rel"]) == 0
    assert "wrote 2 plots" in capsys.readouterr().out


def test_max_points_runs_part_of_the_sweep(tmp_path, spec_path, capsys):
    db = tmp_path / "s.db"
    assert main(["run", str(spec_path), "--db", str(db), "--max-points", "3"]) == 0
    assert "ran 3 " in capsys.readouterr().out
    assert main(["status", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sweeps"][0]["pending"] == 5


def test_progress_bar_shows_points_and_time_left(tmp_path, spec_path, capsys):
    run_sweep(load_spec(spec_path), tmp_path / "s.db", progress=True)
    err = capsys.readouterr().err
    assert "8/8" in err and "point" in err and "<" in err  # tqdm: n/total, unit, elapsed<remaining


def test_quiet_without_a_terminal(tmp_path, spec_path, capsys):
    run_sweep(load_spec(spec_path), tmp_path / "s.db")  # progress=None: stderr is not a terminal here
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["status", "--db", "{tmp}/missing.db"], "does not exist"),
        (["export", "--db", "{tmp}/missing.db", "--csv", "{tmp}/x.csv"], "does not exist"),
        (["run", "{tmp}/nope.toml", "--db", "{tmp}/s.db"], "nope.toml"),
        (["run", "{spec}", "--db", "{tmp}/s.db", "--executor", "processes", "--scheduler", "tcp://127.0.0.1:1"],
         "--scheduler needs --executor dask"),
        (["run", "{spec}", "--db", "{tmp}/s.db", "--executor", "processes", "--workers", "0"], "--workers must be >= 1"),
        (["run", "{spec}", "--db", "{tmp}/s.db", "--workers", "4"], "--workers 4 needs --executor processes or dask"),
        (["run", "{spec}", "--db", "{tmp}/notes.txt"], "not an analogeq sweep database"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, spec_path, capsys, args, message):
    (tmp_path / "notes.txt").write_text("my notes\n" * 20)
    args = [a.format(tmp=tmp_path, spec=spec_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("analogeq sweep: error:") and message in err
    assert (tmp_path / "notes.txt").read_text() == "my notes\n" * 20
