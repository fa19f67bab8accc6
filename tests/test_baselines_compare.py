"""``analogeq.compare``: rows against an independent evaluation of the same checkpoint,
checkpoint reuse, the default entries, the CLI, bad input."""

from __future__ import annotations

import json

import pytest
import torch

import analogeq.substrates as substrates
from analogeq.checkpoint import load_checkpoint
from analogeq.cli import main
from analogeq.compare import CompareSettings, compare, default_entries, select_entries, to_markdown
from analogeq.data import load_dataset
from analogeq.robustness.attacks import PGD
from analogeq.substrates.float import FloatSubstrate

TINY_SUITE = dict(fgsm=False, pgd_steps=3, square_queries=20, convergence_steps=0, convergence_restarts=0,
                  gradient_modes=False, transfer=False, corruption_names=("gaussian_noise",), corruption_severities=(3,),
                  corruption_examples=10, certify_n0=10, certify_n=20, certify_examples=5, certify_radii=(0.25,))
TINY = CompareSettings(n_examples=30, baseline_epochs=2, ebm_epochs=1, attack_train_steps=2, suite=TINY_SUITE)


def test_default_entries_cover_the_issue_rows():
    names = [e.name for e in default_entries()]
    for needed in ("ebm", "mlp", "mlp_pgd_at", "mlp_trades", "mlp_awp", "cnn", "vit"):
        assert needed in names
    entries = {e.name: e for e in default_entries()}
    assert entries["mlp_awp"].defence["gamma"] == 5e-3 and entries["mlp_trades"].defence["beta"] == 6.0
    assert entries["mlp_pgd_at"].defence["eps"] == 0.1  # the harness's digits headline radius
    # the EBM and the MLP have the same layers (the digits recipe's dense EBM)
    assert entries["ebm"].model["hidden_sizes"] == entries["mlp"].model["hidden_sizes"]
    cifar = {e.name: e for e in default_entries("cifar10", (3, 32, 32))}
    assert cifar["mlp_pgd_at"].defence["eps"] == pytest.approx(8 / 255)
    assert cifar["vit"].model["patch_size"] == 4 and cifar["ebm"].model["kind"] == "conv_ebm"


def test_rows_match_an_independent_evaluation(tmp_path):
    result = compare(models=["mlp", "mlp_awp"], substrates=("float",), settings=TINY, checkpoint_dir=tmp_path / "ckpt",
                     out_dir=tmp_path / "out")
    assert [r["model"] for r in result["rows"]] == ["MLP", "MLP+AWP"]
    data = load_dataset("digits", seed=0)
    x, y = data.test.x[:30], data.test.y[:30]
    for row in result["rows"]:
        model, metadata = load_checkpoint(tmp_path / "ckpt" / f"{row['entry']}.safetensors")
        with torch.no_grad():
            clean = float((model(x).argmax(1) == y).float().mean())
        assert row["clean"] == pytest.approx(clean)
        pgd = PGD(eps=0.1, steps=3, step_size=2.5 * 0.1 / 3, seed=0)(FloatSubstrate(model), x, y)
        assert row["pgd_linf"] == pytest.approx(1.0 - pgd.success_rate)
        assert row["train_time_s"] == pytest.approx(metadata["train_time_s"]) and row["train_time_s"] > 0
        hidden = result["entries"][[e["name"] for e in result["entries"]].index(row["entry"])]["model"]["hidden_sizes"][0]
        assert row["parameters"] == 64 * hidden + hidden + hidden * 10 + 10 and row["substrate"] == "float"
        assert set(row["certified_accuracy"]) == {"0.25"} and 0.0 <= row["corruptions_mean"] <= 1.0
        # the worst case over L_inf attacks is at most each of them
        assert row["worst_case_linf"] <= min(row["pgd_linf"], row["square_linf"]) + 1e-9
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved["rows"] == result["rows"]
    assert "| MLP+AWP | awp | float |" in (tmp_path / "out" / "compare.md").read_text()


def test_checkpoints_are_reused_only_when_they_match(tmp_path):
    first = compare(models=["mlp"], substrates=("float",), settings=TINY, checkpoint_dir=tmp_path)
    again = compare(models=["mlp"], substrates=("float",), settings=TINY, checkpoint_dir=tmp_path)
    assert again["rows"][0]["clean"] == first["rows"][0]["clean"]
    assert again["rows"][0]["train_time_s"] == first["rows"][0]["train_time_s"]  # loaded, not retrained
    other = CompareSettings(**{**TINY.to_dict(), "baseline_epochs": 1})
    retrained = compare(models=["mlp"], substrates=("float",), settings=other, checkpoint_dir=tmp_path)
    assert retrained["rows"][0]["train_time_s"] != first["rows"][0]["train_time_s"]


def test_unregistered_hardware_substrate_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(substrates, "substrate_kinds", lambda: ["float"])
    result = compare(models=["mlp"], substrates=("float", "crossbar"), settings=TINY)
    assert [r["substrate"] for r in result["rows"]] == ["float"]
    assert result["skipped"][0]["substrate"] == "crossbar"
    assert "Skipped all models on crossbar" in to_markdown(result)


def test_cli_writes_the_table(tmp_path, capsys):
    code = main(["compare", "--models", "mlp", "--substrates", "float", "--quick", "--n-examples", "20",
                 "--out", str(tmp_path), "--threads", "1", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema"] == "analogeq.compare/1" and result["rows"][0]["model"] == "MLP"
    assert (tmp_path / "compare.md").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"models": ["mlp", "resnet50"]}, r"unknown compare model\(s\) \['resnet50'\]"),
    ({"models": ["mlp"], "substrates": ("float", "fpga")}, r"unknown substrate kind\(s\) \['fpga'\]"),
    ({"models": ["mlp"], "substrates": ("float", "crossbar"), "card": "no-such-card"}, "neither a card file .* nor a preset; presets:"),
    ({"models": ["mlp"], "seed": -1}, r"compare.seed: must be an integer >= 0, got -1"),
    ({"models": ["mlp"], "n_examples": 0}, r"compare.n_examples: must be an integer >= 1, got 0"),
    ({"dataset": "imagenet"}, "unknown dataset"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare(settings=TINY, **kwargs)


def test_select_entries_keeps_the_order():
    entries = default_entries()
    assert [e.name for e in select_entries(entries, ["vit", "ebm"])] == ["vit", "ebm"]
    with pytest.raises(ValueError, match="at least one"):
        select_entries(entries, [])


def test_cli_bad_model_name_is_one_line_error(capsys):
    assert main(["compare", "--models", "mlp,foo", "--substrates", "float"]) == 2
    assert "unknown compare model(s) ['foo']" in capsys.readouterr().err
