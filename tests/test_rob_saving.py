"""Per-example results and the adversarial inputs file (issue 15, item 5): evaluate_robustness
keeps per-example correctness per draw and (keep_adversarial) the inputs; save_adversarial /
load_adversarial round-trip them with the configs; the CLI's --save-adversarial writes the file."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.saving import load_adversarial, save_adversarial
from analogeq.robustness.suite import QUICK
from fixtures_robustness import NearestMean, NoisyLogits, digits_split, float_substrate

SUITE = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=3, square_queries=10, convergence_steps=0,
                      gradient_modes=False, targeted_steps=3, apgd_targets=2, targeted_examples=20,
                      eot_samples=2, draws=3, eot_max_samples=2, cw_steps=5, cw_search_steps=2)


@pytest.fixture(scope="module")
def noisy_result():
    x_tr, y_tr, x_te, y_te = digits_split()
    sub = NoisyLogits(float_substrate(NearestMean(x_tr, y_tr)), 0.3)
    x, y = x_te[:30], y_te[:30]
    return evaluate_robustness(sub, x, y, suite=SUITE, extras=False, keep_adversarial=True), x, y


def test_per_example_correctness_per_draw_matches_the_accuracies(noisy_result):
    result, x, y = noisy_result
    pe = result["per_example"]
    assert {"clean", "pgd_linf@0.1", "pgd_l2@1.0", "apgd_t_l2@1.0", "cw_l2"} <= set(pe)
    for key, entry in pe.items():
        assert len(entry["correct"]) == 3 and all(len(s) == entry["n_examples"] for s in entry["correct"])
    bits = lambda s: [c == "1" for c in s]  # noqa: E731
    per_draw = [sum(bits(s)) / 30 for s in pe["pgd_l2@1.0"]["correct"]]
    assert per_draw == pytest.approx(result["attacks"]["pgd_l2"]["1.0"]["per_draw"])
    assert pe["apgd_t_l2@1.0"]["n_examples"] == 20
    json.dumps({k: v for k, v in result.items() if k != "adversarial"}, allow_nan=False)


def test_adversarial_file_round_trip(noisy_result, tmp_path):
    result, x, y = noisy_result
    path = save_adversarial(tmp_path / "adv.safetensors", result, x, y)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic: no temporary left
    back = load_adversarial(path)
    assert torch.equal(back["x"], x) and torch.equal(back["y"], y) and back["seed"] == 0
    assert back["suite"] == result["suite"]
    for key, item in result["adversarial"].items():
        run = back["runs"][key]
        assert torch.equal(run["x_adv"], item["x_adv"]) and run["config"] == item["config"]
        want = torch.tensor([[c == "1" for c in s] for s in result["per_example"][key]["correct"]])
        assert torch.equal(run["correct"], want)
    assert back["runs"]["pgd_l2@1.0"]["config"]["norm"] == "l2"
    assert back["runs"]["apgd_t_l2@1.0"]["x_adv"].shape[0] == 20
    assert torch.equal(back["runs"]["clean"]["correct"].float().mean(1),
                       torch.tensor(result["clean"]["per_draw"]))
    with pytest.raises(ValueError, match="keep_adversarial"):
        save_adversarial(tmp_path / "no.safetensors", {k: v for k, v in result.items() if k != "adversarial"}, x, y)


def test_cli_save_adversarial(tmp_path):
    from analogeq.checkpoint import save_checkpoint
    from analogeq.commands import robustness
    from analogeq.models import build_model

    p = argparse.ArgumentParser(prog="analogeq")
    robustness.register(p.add_subparsers(dest="command"))
    model = build_model({"kind": "dense_ebm", "hidden_sizes": [8], "readout": "ce", "free_steps": 5})
    ckpt = save_checkpoint(tmp_path / "ebm.safetensors", model, {"dataset": "digits", "seed": 0})
    out = tmp_path / "adv.safetensors"
    args = p.parse_args(["robustness", "--checkpoint", str(ckpt), "--n-examples", "4", "--no-extras", "--suite", "quick",
                         "--out", str(tmp_path / "report"), "--save-adversarial", str(out)])
    assert args.func(args) == 0
    back = load_adversarial(out)
    assert back["x"].shape == (4, 1, 8, 8) and "pgd_linf@0.1" in back["runs"]
    saved = json.loads((tmp_path / "report" / "robustness.json").read_text())
    assert "adversarial" not in saved and "pgd_linf@0.1" in saved["per_example"]
