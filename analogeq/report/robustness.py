"""Reports of a robustness evaluation (schema ``analogeq.robustness/1``, see
:mod:`analogeq.robustness.evaluate`): Markdown tables and the JSON + Markdown files.

* :func:`to_markdown`: accuracy (%) per attack and eps (mean +- 95% half-width over draws), wall
  time per 100 images, the gradient modes, the extras and the sanity gates of one result;
* :func:`compare_markdown`: one row per substrate with the summary figures;
* :func:`write_report`: ``<stem>.json`` (strict JSON) and ``<stem>.md``, each written atomically.

It reads result dicts only (no substrate, no torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analogeq.report.energy import energy_breakdown_text
from analogeq.report.tables import settle_text
from hardware_models.files import atomic_write
from hardware_models.jsonable import to_jsonable


#: the label of a smoke-test result (also in its JSON as ``figures_note``)
SMOKE = "small attack budgets; accuracies under attack are upper bounds on the robust accuracy"


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("accuracy") is None:
        return "-"
    text = f"{100 * entry['accuracy']:.1f}"
    if entry.get("ci95") is not None:
        text += f" ± {100 * entry['ci95']:.1f}"
    return text


def to_markdown(result: dict[str, Any]) -> str:
    """Markdown: accuracy (%) per attack and eps, wall time per 100 images, and the gates."""
    lines = [f"## Robustness of `{result['substrate'].get('substrate', '?')}` ({result['suite']['name']} suite, "
             f"{result['n_examples']} examples, seed {result['seed']})", ""]
    if result.get("smoke_test"):
        lines += [f"**Smoke test** ({result['suite']['name']} suite): {result.get('figures_note') or SMOKE}.", ""]
    st = result["stochastic"]
    lines.append(f"Gradient: `{json.dumps(result['gradient'])}`; stochastic: declared {st['declared']}, detected "
                 f"{st['detected']}; EOT K = {st['eot_samples']}; accuracy over {st['draws']} draw(s)"
                 + (" (mean ± 95% CI)" if st["draws"] > 1 else "") + ".")
    lines += ["", "| attack | eps | accuracy (%) | attack success (%) | s / 100 images |", "|---|---|---|---|---|",
              f"| clean | 0 | {_fmt(result['clean'])} | | |"]
    for key, by_eps in result["attacks"].items():
        if key == "cw_l2":
            for e, acc in by_eps["accuracy_at_eps"].items():
                lines.append(f"| cw_l2 | {e} | {_fmt(acc)} | | {by_eps['wall_time_per_100_images_s']:.2f} |")
            continue
        for e, entry in by_eps.items():
            lines.append(f"| {key} | {e} | {_fmt(entry)} | {100 * entry['attack_success_rate']:.1f} | "
                         f"{entry['wall_time_per_100_images_s']:.2f} |")
    modes = (result.get("gradient_modes") or {}).get("modes")
    if modes:
        lines += ["", f"Gradient modes (PGD L_inf, eps {result['gradient_modes']['eps']}):", "",
                  "| gradient | accuracy (%) | s / 100 images |", "|---|---|---|"]
        for name, entry in modes.items():
            if "unavailable" in entry:
                lines.append(f"| {name} | unavailable | |")
            else:
                lines.append(f"| {name} | {_fmt(entry)} | {entry['wall_time_per_100_images_s']:.2f} |")
    others = []
    if result["corruptions"].get("available"):
        others.append(f"corruptions mean accuracy: {_fmt({'accuracy': result['corruptions']['mean'], 'ci95': result['corruptions']['ci95']})} %")
    cert = result["certification"]
    if cert.get("available"):
        radii = ", ".join(f"{100 * acc:.1f} % at r = {r}" for r, acc in cert["certified_accuracy"].items())
        others.append(f"randomized smoothing (sigma {cert['sigma']}, n {cert['n']}, {cert['n_examples']} examples): "
                      f"certified accuracy {radii}; abstained {100 * cert['abstain_rate']:.1f} %")
    det = result["detection"]
    if det.get("available"):
        rates = ", ".join(f"{k} {100 * v['detection_rate']:.1f} %" for k, v in det["attacks"].items())
        others.append(f"feature squeezing (threshold at {100 * det['config']['false_positive_rate']:.0f} % FPR, "
                      f"measured FPR {100 * det['false_positive_rate']:.1f} %): detection {rates}")
    en = result["energy"]
    if en.get("available"):
        gaps = ", ".join(f"{k} gap {v['mean_gap']:+.3f} (AUROC {v['auroc']:.2f})" for k, v in en["attacks"].items())
        others.append(f"energy E(x) = -logsumexp f(x), adversarial - natural: {gaps}")
    if result.get("settle") is not None:  # results written before the settle report have none
        others.append(settle_text(result["settle"]))
    if result.get("cost"):
        others.append(f"energy per inference {result['cost']['energy_per_inference_J']:.3g} J "
                      f"({energy_breakdown_text(result['cost'])})")
    if others:
        lines += [""] + [f"- {o}" for o in others]
    lines += ["", "| sanity gate | passed |", "|---|---|"]
    for name, g in result["gates"].items():
        lines.append(f"| {name} | {'yes' if g['passed'] else '**NO**'} |")
    lines.append("")
    return "\n".join(lines)


def compare_markdown(results: dict[str, dict[str, Any]]) -> str:
    """One row per substrate: the summary figures side by side (accuracy %)."""
    cols = ["clean", "pgd_linf", "pgd_l2", "square", "transfer", "worst_case_linf"]
    lines = ["| substrate | " + " | ".join(cols) + " | corruptions | gates passed |",
             "|---" * (len(cols) + 3) + "|"]
    smoke = [name for name, r in results.items() if r.get("smoke_test")]
    for name, r in results.items():
        s = r["summary"]
        name = f"{name} (smoke test)" if r.get("smoke_test") else name
        cells = [("-" if s.get(c) is None else f"{100 * s[c]:.1f}") for c in cols]
        corr = r["corruptions"].get("mean")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'-' if corr is None else f'{100 * corr:.1f}'} | "
                     f"{'yes' if r['sanity_gates_passed'] else 'no'} |")
    if smoke:
        lines += ["", f"Smoke test rows ({', '.join(smoke)}): {SMOKE}."]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out_dir: str | Path, stem: str = "robustness") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` atomically; returns both paths
    (the adversarial inputs of ``keep_adversarial=True``, tensors, are left out)."""
    out = Path(out_dir)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    result = {k: v for k, v in result.items() if k != "adversarial"}  # tensors: robustness.saving writes them
    atomic_write(json_path, json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n")
    atomic_write(md_path, to_markdown(result))
    return json_path, md_path
