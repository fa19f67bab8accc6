"""The train / evaluate / demo commands, in process."""

from __future__ import annotations

import json

import pytest

from analogeq.cli import main

TINY = '{"hidden_sizes": [16], "free_steps": 15, "nudge_steps": 5, "tol": 1e-4}'


@pytest.mark.parametrize("command", ["train", "evaluate", "demo"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: analogeq {command}" in capsys.readouterr().out


def test_train_then_evaluate(tmp_path, capsys):
    ckpt = tmp_path / "m.safetensors"
    code = main(["train", "--out", str(ckpt), "--epochs", "1", "--limit-train", "200", "--model-config", TINY, "--json"])
    assert code == 0
    trained = json.loads(capsys.readouterr().out)
    code = main(["evaluate", str(ckpt), "--json", "--batch-size", "512"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    # the checkpoint alone rebuilds the model and its dataset split: same test accuracy
    assert result["dataset"] == "digits" and result["split"] == "test" and result["n"] == 360
    assert result["accuracy"] == pytest.approx(trained["test"]["accuracy"])
    assert result["substrate"]["substrate"] == "float"
    assert "mean_settle_steps" in result["settling"]


def test_command_errors_are_one_clear_line(tmp_path, capsys):
    ckpt = tmp_path / "bad.safetensors"
    ckpt.write_bytes(b"not a checkpoint at all")
    assert main(["evaluate", str(ckpt)]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x.safetensors"), "--beta", "0"]) == 2
    assert "beta" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x.safetensors"), "--dataset", "mnist", "--data-root", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x.safetensors"), "--model-config", "{not json"]) == 2
    assert "--model-config" in capsys.readouterr().err


def test_demo_sections_and_table(tmp_path, monkeypatch):
    import analogeq.demo as demo

    calls = []

    def fake(ctx):
        calls.append(ctx.quick)
        ctx.artifacts["fake"] = 1
        return [{"section": "fake", "accuracy": 0.5, "extra_col": "x"}]

    def second(ctx):
        assert ctx.artifacts["fake"] == 1  # sections share artifacts, in order
        return [{"section": "second", "substrate": "crossbar", "settle_steps": 12.0}]

    monkeypatch.setattr(demo, "SECTIONS", [("fake", fake)])
    demo.register_section("second", second)
    with pytest.raises(ValueError, match="already registered"):
        demo.register_section("second", second)
    res = demo.run_demo(tmp_path, quick=True, print_table=False)
    assert calls == [True] and [r["section"] for r in res["rows"]] == ["fake", "second"]
    lines = res["table"].splitlines()
    assert lines[0].split() == ["section", "substrate", "accuracy", "settle_steps", "extra_col"]
    assert lines[2].split() == ["fake", "-", "0.5000", "-", "x"]
    assert json.loads((tmp_path / "demo_results.json").read_text())["rows"][1]["substrate"] == "crossbar"
    with pytest.raises(ValueError, match="unknown demo section"):
        demo.run_demo(tmp_path, sections=["nope"], print_table=False)


def test_demo_hardware_sections_need_the_float_section(tmp_path):
    import analogeq.demo as demo

    with pytest.raises(ValueError, match=r"\['crossbar', 'sweep'\] need the network .* add --section float"):
        demo.run_demo(tmp_path / "out", sections=["crossbar", "sweep"], print_table=False)
    assert not (tmp_path / "out").exists()  # refused before doing anything


def test_demo_float_section_quick(tmp_path, monkeypatch):
    # the real float section in quick mode: trains, saves a loadable checkpoint, fills a row
    import analogeq.demo as demo
    from analogeq.checkpoint import load_checkpoint

    from analogeq.train import recipes

    from analogeq.demo import floating

    monkeypatch.setattr(demo, "SECTIONS", [("float", floating.section_float)])
    # a smaller network than the recipe's, to keep the test short
    monkeypatch.setitem(recipes.DIGITS_DENSE_MODEL, "hidden_sizes", [64])
    monkeypatch.setitem(recipes.DIGITS_DENSE_MODEL, "free_steps", 20)
    monkeypatch.setitem(recipes.DIGITS_DENSE_MODEL, "nudge_steps", 6)
    monkeypatch.setattr(floating, "QUICK_EPOCHS", 3)
    res = demo.run_demo(tmp_path, quick=True, print_table=False)
    (row,) = res["rows"]
    assert row["section"] == "float" and 0.5 < row["accuracy"] <= 1.0
    assert row["model"] == "dense EBM 64-64-10 (mse)"
    model, meta = load_checkpoint(tmp_path / "dense_ebm_digits.safetensors")
    assert meta["test_accuracy"] == row["accuracy"] and meta["dataset"] == "digits"
    # the report: the results table and the training curve (a real PNG)
    report = (tmp_path / "report.md").read_text()
    assert "## Substrates" in report and "![training curve](training_curve.png)" in report
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res["report"]["tables"]["results"].endswith("table_results.csv")


@pytest.mark.parametrize("exc, code", [
    (IsADirectoryError(21, "Is a directory", "out"), 2),
    (PermissionError(13, "Permission denied", "/root/x"), 2),
    (FileExistsError(17, "File exists", "db"), 2),
    (ValueError("first line\n  second line"), 2),
    (KeyboardInterrupt(), 130),
])
def test_errors_and_ctrl_c_are_one_line(monkeypatch, capsys, exc, code):
    import analogeq.commands.evaluate as evaluate_cmd

    def boom(args):
        raise exc

    monkeypatch.setattr(evaluate_cmd, "run", boom)
    assert main(["evaluate", "x.safetensors"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("analogeq evaluate: "), err
    if code == 130:
        assert "stopped (Ctrl-C)" in err[0]
    else:
        assert "error: " in err[0]
    if isinstance(exc, ValueError):
        assert err[0].endswith("error: first line second line")
    with pytest.raises(type(exc)):  # --debug keeps the traceback
        main(["--debug", "evaluate", "x.safetensors"])


def test_help_of_every_command_has_no_restructuredtext_markup(capsys):
    import re

    from analogeq.cli import COMMAND_MODULES

    names = [m.rsplit(".", 1)[1].replace("_cmd", "") for m in COMMAND_MODULES]
    for name in [None, *names]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"] if name is None else [name, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert len(text) > 100, name
        assert not re.search(r"``|:(mod|func|class|meth|data|attr):`", text), (name, re.findall(r".*``.*|.*:\w+:`.*", text)[:3])
