"""``analogeq evaluate`` on hardware substrates: draws with a 95% interval, the energy parts,
options checked before any work, and the same numbers as building the substrate by hand."""

from __future__ import annotations

import json

import pytest
import torch

from analogeq.cli import main
from analogeq.commands.evaluate import evaluate_checkpoint
from analogeq.stats import mean_ci95
from hardware_models.seeds import derive_seed


@pytest.fixture(scope="module")
def checkpoint(digits_small, tmp_path_factory):
    from analogeq.checkpoint import save_checkpoint
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
    from analogeq.train import TrainConfig, train

    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), free_steps=100, nudge_steps=20, tol=1e-4, seed=0))
    train(model, digits_small, TrainConfig(epochs=3, batch_size=32, lr=(0.2, 0.1), seed=0), progress=False)
    path = tmp_path_factory.mktemp("eval") / "m.safetensors"
    save_checkpoint(path, model, {"dataset": "digits", "split_seed": 0})
    return str(path), model.eval()


def test_crossbar_draws_give_a_mean_and_interval_and_the_energy_parts(checkpoint, digits_splits):
    path, model = checkpoint
    out = evaluate_checkpoint(path, substrate="crossbar", card="pcm", drift_time="1d", draws=3, limit=40, seed=5)
    assert out["draws"] == 3 and len(out["accuracy_per_draw"]) == 3
    mean, ci = mean_ci95(out["accuracy_per_draw"])
    assert out["accuracy"] == mean and out["accuracy_ci95"] == ci
    assert out["substrate"]["drift_time_s"] == 86400.0
    parts = out["energy_breakdown_J"]
    assert set(parts) == {"array", "DAC", "ADC", "neurons"}
    assert sum(parts.values()) == pytest.approx(out["cost"]["energy_per_inference_J"], rel=1e-12)
    # draw 1 is the substrate built by hand with the seed derived for it
    from analogeq.substrates import build_substrate

    x, y = digits_splits.test.subset(40).x, digits_splits.test.subset(40).y
    by_hand = build_substrate("crossbar", model, card="pcm", drift_time_s=86400.0, seed=derive_seed(5, "evaluate/draw/1"))
    assert out["accuracy_per_draw"][1] == int((by_hand.predict(x) == y).sum()) / 40
    json.dumps(out)


def test_a_deterministic_card_is_evaluated_once_and_matches_float(checkpoint):
    path, _ = checkpoint
    ideal = evaluate_checkpoint(path, substrate="crossbar", card="ideal", drift_time=0, draws=5, limit=60)
    plain = evaluate_checkpoint(path, limit=60)
    assert ideal["draws"] == 1 and ideal["accuracy_ci95"] is None
    assert abs(ideal["accuracy"] - plain["accuracy"]) <= 1 / 60
    assert plain["cost"] is None and plain["energy_breakdown"] is None and "settling" in plain


@pytest.mark.parametrize("argv, message", [
    (["--substrate", "crossbar", "--drift-time", "a while"], "--drift-time: must be a duration"),
    (["--substrate", "float", "--drift-time", "1h"], "drift_time_s: is not an option of the float substrate"),
    (["--substrate", "crossbar", "--card", "pmc"], "--card: card 'pmc' is neither a card file"),
    (["--substrate", "abacus"], "--substrate: 'abacus' is not a registered substrate kind"),
    (["--substrate", "crossbar", "--draws", "0"], "--draws: must be an integer >= 1"),
])
def test_bad_options_are_one_line_before_any_work(checkpoint, capsys, argv, message):
    path, _ = checkpoint
    assert main(["evaluate", path, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_robustness_and_compare_take_drift_time_with_units(capsys, tmp_path):
    assert main(["robustness", "--substrate", "crossbar", "--drift-time=-1h", "--out", str(tmp_path)]) == 2
    assert "--drift-time: must be a duration >= 0" in capsys.readouterr().err
    assert main(["compare", "--drift-time", "2 fortnights", "--out", str(tmp_path)]) == 2
    assert "--drift-time: must be a duration >= 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before any work
