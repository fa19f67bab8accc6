"""The demo report's notes (issue 17 item 18) appear exactly when what they explain happened, and
report.md embeds every PNG the demo writes (item 16), with the captions items 15 and 17 ask for."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from analogeq.demo.report_notes import certified_note, dither_note, energy_note


def _energy_rows(ideal_uJ, pcm_uJ):
    return [{"substrate": "crossbar ideal", "energy_per_inference_uJ": ideal_uJ, "energy_breakdown": "ADC 97%"},
            {"substrate": "crossbar pcm 1 h", "energy_per_inference_uJ": pcm_uJ}]


def test_energy_note_only_when_ideal_costs_more():
    note = energy_note(_energy_rows(12.0, 0.3))
    # the presets: ideal has 16-bit converters, pcm a 9-bit ADC: 2^(16 - 9) = 128
    assert note and "16-bit ADC" in note and "2^(16 - 9) = 128" in note and "12 µJ" in note and "ADC 97%" in note
    assert energy_note(_energy_rows(0.2, 0.3)) is None
    assert energy_note(_energy_rows(None, 0.3)) is None and energy_note([]) is None


def _sweep_rows(acc_noise0_4bit, acc_noise1_4bit, ci=0.01):
    rows = []
    for bits, base in ((4, None), (8, 0.93)):
        for noise in (0.0, 1.0, 3.0):
            if bits == 4:
                acc = {0.0: acc_noise0_4bit, 1.0: acc_noise1_4bit, 3.0: acc_noise0_4bit - 0.05}[noise]
            else:
                acc = base - 0.01 * noise  # at 8 bits noise only hurts
            rows.append({"read_noise_scale": noise, "adc_bits": bits, "crossbar_accuracy": acc,
                         "crossbar_accuracy_ci95": ci})
    return rows


def test_dither_note_only_when_noise_helps_at_the_coarsest_adc():
    note = dither_note(_sweep_rows(0.80, 0.86))
    assert note and "4-bit ADC" in note and "read noise 1x" in note and "0.860 ± 0.010" in note and "0.800" in note
    assert "dither" in note and "chance" not in note  # 0.85..0.87 vs 0.79..0.81: no overlap
    assert "At 8-bit ADC, where rounding is fine, the same noise gives 0.920 ± 0.010 against 0.930 ± 0.010" in note
    assert "chance" in dither_note(_sweep_rows(0.80, 0.81, ci=0.05))  # overlapping intervals are said to
    assert dither_note(_sweep_rows(0.86, 0.80)) is None
    assert dither_note([]) is None


def _cert(values, n=100, m=4):
    return {"certification": {"available": True, "sigma": 0.25, "n0": 20, "n": n, "alpha": 0.001, "n_examples": m,
                              "certified_accuracy": values}}


def test_certified_note_only_for_a_zero_and_with_the_budget():
    note = certified_note({"float": _cert({"0.1": 0.5, "0.25": 0.25}, m=30), "spiking ideal": _cert({"0.1": 0.25, "0.25": 0.0})})
    assert note and "spiking ideal" in note and "float" not in note
    # 0 of 4: Clopper-Pearson 95% upper end 1 - 0.025^(1/4) = 0.602; n = 100 certifies at most
    # 0.25 * PhiInv(0.001^(1/100)) = 0.375 (Cohen et al. 2019 with all samples agreeing)
    assert "from 4 images with n = 100" in note and "up to 0.60" in note and "at most radius 0.38" in note
    assert certified_note({"float": _cert({"0.25": 0.5})}) is None
    assert certified_note({"float": {"certification": {"available": False}}}) is None


def _robustness_result(n, draws, cert):
    ci = 0.05 if draws > 1 else None
    return {"n_examples": n, "stochastic": {"draws": draws}, "suite": {"unbounded_linf_eps": 1.0},
            "clean": {"accuracy": 0.9, "ci95": ci},
            "attacks": {"pgd_linf": {"0.1": {"accuracy": 0.5, "ci95": ci}, "0.2": {"accuracy": 0.1, "ci95": ci},
                                     "1.0": {"accuracy": 0.0, "ci95": ci}},
                        "pgd_l2": {k: {"accuracy": a, "ci95": ci} for k, a in
                                   (("0.25", 0.8), ("0.5", 0.6), ("1.0", 0.3), ("2.0", 0.0))}},
            **cert}


def test_demo_report_embeds_every_png_and_the_notes(tmp_path):
    from analogeq.demo.report import write_demo_report

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    sweep_plots = []
    for name in ("acc_vs_adc_bits", "acc_vs_read_noise", "acc_read_noise_x_adc_bits", "rel_err_vs_adc_bits",
                 "rel_err_vs_read_noise", "rel_err_read_noise_x_adc_bits"):
        (sweep_dir / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        sweep_plots.append(str(sweep_dir / f"{name}.png"))
    drift = [{"t_s": t, "compensation": c, "accuracy": 0.9, "ci95": 0.01, "accuracies": [0.9, 0.9, 0.9]}
             for c in ("global", "none") for t in (1.0, 3600.0, 3.1536e7)]
    robustness = {"float": _robustness_result(40, 1, _cert({"0.25": 0.5}, m=30)),
                  "spiking ideal": _robustness_result(8, 1, _cert({"0.25": 0.0}))}
    extra = {"resistive ideal (DRN)": _robustness_result(8, 1, _cert({"0.1": 0.0}))}  # another network: notes only
    ctx = SimpleNamespace(out_dir=tmp_path, quick=True, seed=0, device="cpu", dataset="digits", artifacts={
        "pcm_drift": drift, "robustness": robustness, "robustness_extra": extra, "splits": SimpleNamespace(test=[0] * 360),
        "sweep": {"report": str(sweep_dir / "sweep-report.md"), "db": str(sweep_dir / "sweep.db"),
                  "spec": str(sweep_dir / "sweep.toml"), "plots": sweep_plots}})
    rows = _energy_rows(12.0, 0.3) + [
        {"table": "robustness", "substrate": name, "clean": 0.9, "pgd_linf_0.1": 0.5} for name in robustness
    ] + [{**r, "table": "sweep"} for r in _sweep_rows(0.80, 0.86)]
    out = write_demo_report(ctx, rows, {"float": 1.0}, "table")
    text = Path(out["report"]).read_text()
    embedded = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text))
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")}
    assert written == embedded and len(written) == 3 + 6
    # each note under its own table, in the order the tables come
    at = {key: text.index(key) for key in ("## Substrates", "Energy: `ideal` above `pcm`", "## Robustness",
                                           "certified accuracy of 0", "## Sweep", "Read noise raising accuracy")}
    assert list(at) == sorted(at, key=at.get)
    # 3 draws: t(0.975, 2 dof) = 4.30 (t table)
    assert "3 programming draw(s) per point on the 360 test images, bars the 95% interval (Student t) (with 3 " \
        "draws it is wide: t = 4.3 standard errors)" in text
    assert "float 40 images; spiking ideal 8 images;" in text and "sanity check at L_inf eps 1" in text
    assert "resistive ideal (DRN): certified accuracy 0 at radius 0.1 from 4 images" in text
    assert "`relative_error` is the physics-only read error: relative_error = ||y - y_ideal||_F" in text


def test_demo_report_without_the_conditions_has_no_notes(tmp_path):
    from analogeq.demo.report import write_demo_report

    ctx = SimpleNamespace(out_dir=tmp_path, quick=True, seed=0, device="cpu", dataset="digits", artifacts={})
    rows = _energy_rows(0.2, 0.3) + [{**r, "table": "sweep"} for r in _sweep_rows(0.86, 0.80)]
    text = Path(write_demo_report(ctx, rows, {"float": 1.0}, "table")["report"]).read_text()
    for phrase in ("Energy:", "certified accuracy of 0", "Read noise raising"):
        assert phrase not in text
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("name", ["float", "crossbar pcm 1 h", "spiking ideal"])
def test_demo_robustness_has_at_least_four_l2_radii_on_every_substrate(name):
    from analogeq.demo.robustness import DEMO_PLAN
    from analogeq.robustness.plan import plan_attacks

    suite = DEMO_PLAN[name][0]
    plan = plan_attacks(suite, num_classes=10, has_reference=True)
    assert len(plan.l2_eps) >= 4
    assert sorted(run.eps for run in plan.attacks if run.name == "pgd_l2") == list(plan.l2_eps)
