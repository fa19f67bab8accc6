"""One table comparing EBMs with feed-forward baselines and defences, on float and on hardware.

``compare(...)`` trains (or loads) every model of a list of *entries*, evaluates each with the
robustness harness (:func:`analogeq.robustness.evaluate.evaluate_robustness`: PGD, Square,
natural corruptions, randomized-smoothing certification, sanity gates) on every requested
substrate (``"float"``, and ``"crossbar"`` with a device card when that substrate is
registered), and returns one table: a list of rows, one per (entry, substrate).

Entries (digits defaults, :func:`default_entries`)
--------------------------------------------------
===============  ==========  ===========================================================
name             label       model and training
===============  ==========  ===========================================================
ebm              EBM         the digits recipe's dense EBM (``analogeq.train.recipes``: 64-512-10), EqProp
mlp              MLP         the same layers (64-512-10 = 38 410 parameters) with ReLU, cross-entropy
mlp_pgd_at       MLP+PGD-AT  the MLP with PGD adversarial training (Madry et al. 2018)
mlp_trades       MLP+TRADES  the MLP with TRADES, beta 6 (Zhang et al. 2019)
mlp_awp          MLP+AWP     the MLP with AT-AWP, gamma 5e-3 (Wu et al. 2020)
mlp_weat         MLP+WEAT    the MLP with WEAT_adv, beta 7 (Mirza et al. 2024)
vib              VIB         VIB classifier 64-128-(2x32), beta 1e-3 (Alemi et al. 2017)
cnn              CNN         the conv EBM's layer shapes read feed-forward
cnn_pgd_at       CNN+PGD-AT  the CNN with PGD adversarial training
vit              ViT         patch 2, D 32, depth 2, 4 heads (Adam 3e-3)
===============  ==========  ===========================================================

Adversarial training uses the table's own headline L_inf radius (digits: 0.1; CIFAR-10: 8/255).

Row fields: ``entry``, ``model`` (label), ``kind``, ``defence``, ``parameters``, ``substrate``,
``card``, ``clean``, ``pgd_linf``, ``square_linf``, ``pgd_l2``, ``transfer_linf`` (hardware:
PGD made on the float model), ``worst_case_linf`` / ``worst_case_l2`` (per example, robust only
if it survives every attack of that norm at the headline eps: PGD, FGSM, Square, transfer; the
honest robust accuracy where one attack is weak, e.g. Square on a noisy substrate or PGD on a
masked gradient), ``corruptions_mean``, ``certified_accuracy`` ({radius: acc}),
``train_time_s``, ``eval_time_s``, ``sanity_gates_passed``, ``failed_gates``, ``stochastic``,
``energy_per_inference_J`` / ``latency_per_inference_s`` (hardware cost model, else null),
and ``ci95`` half-widths of clean/pgd/square over noise draws on stochastic substrates.
Accuracies are fractions in [0, 1] on the first ``n_examples`` test images.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from hardware_models.files import atomic_write

logger = logging.getLogger(__name__)

SCHEMA = "analogeq.compare/1"


@dataclass(frozen=True)
class CompareEntry:
    """One model of the table: ``name`` (short id), ``label`` (row label), ``model`` (config
    dict with ``kind``), ``defence`` (defence dict, None for EBMs), ``train`` (training config
    dict: :class:`~analogeq.baselines.train.BaselineTrainConfig` fields for baselines,
    :class:`~analogeq.train.TrainConfig` fields for EBMs)."""

    name: str
    label: str
    model: dict[str, Any]
    defence: dict[str, Any] | None = None
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def is_ebm(self) -> bool:
        return str(self.model.get("kind", "")).endswith("_ebm")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CompareSettings:
    """Budgets of one comparison (``quick`` gives a run of a few minutes on digits)."""

    n_examples: int = 200
    baseline_epochs: int = 30
    ebm_epochs: int = 30
    attack_train_steps: int = 10
    suite: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_radii(dataset: str) -> tuple[float, float]:
    """Headline (L_inf eps, L2 eps): digits 0.1 / 1.0 (the harness defaults); CIFAR 8/255 / 0.5."""
    if dataset.startswith("cifar"):
        return 8.0 / 255.0, 0.5
    return 0.1, 1.0


def settings_for(quick: bool, n_examples: int | None = None) -> CompareSettings:
    """Budgets. Full (sized for a CPU: an EBM settles through every PGD step on the crossbar):
    30 epochs; the harness's quick suite at the dataset's radii with PGD 20 steps, FGSM, Square 500
    queries, EOT 4 and 5 draws on stochastic substrates, transfer from float, no convergence
    gate; all 19 corruptions at severities 1, 3, 5 on 100 images; certification n = 500 (largest
    certifiable radius 0.25 * PhiInv(0.001^(1/500)) ~ 0.55) on 100 images; 200 test images.
    Quick (a smoke-level table in minutes): 8 epochs (EBM 6), PGD 5 steps, Square 100 queries,
    EOT 2 and 3 draws, no transfer, 5 corruptions at severity 3 on 50 images, certification
    n = 100 on 20 images; 50 test images. Quick figures carry wide intervals."""
    if quick:
        suite = dict(fgsm=True, pgd_steps=5, square_queries=100, transfer=False, convergence_steps=0, convergence_restarts=0,
                     gradient_modes=False, eot_samples=2, draws=3,
                     corruption_names=("gaussian_noise", "impulse_noise", "defocus_blur", "contrast", "pixelate"),
                     corruption_severities=(3,), corruption_examples=50,
                     certify_n0=20, certify_n=100, certify_examples=20, certify_radii=(0.25,))
        return CompareSettings(n_examples=n_examples or 50, baseline_epochs=8, ebm_epochs=6, attack_train_steps=5, suite=suite)
    suite = dict(gradient_modes=False, square_queries=500, eot_samples=4, draws=5, convergence_steps=0,
                 convergence_restarts=0, corruption_severities=(1, 3, 5), corruption_examples=100,
                 certify_n=500, certify_examples=100, certify_radii=(0.25, 0.5))
    return CompareSettings(n_examples=n_examples or 200, suite=suite)


def default_entries(dataset: str = "digits", input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10, *,
                    settings: CompareSettings | None = None) -> list[CompareEntry]:
    """The entries of the module docstring for ``dataset`` (digits: EBM-sized models;
    CIFAR-10-like 3x32x32 inputs: the seed study's conv EBM, CNN and ViT patch 4 shapes)."""
    from analogeq.baselines.models import CNNConfig, ViTConfig

    settings = settings or settings_for(False)
    eps, _ = dataset_radii(dataset)
    steps = settings.attack_train_steps
    shape = list(input_shape)
    cifar_like = tuple(input_shape) == (3, 32, 32)
    base_train = {"epochs": settings.baseline_epochs}
    at = {"defence": "pgd_at", "eps": eps, "steps": steps}
    if cifar_like:
        from analogeq.ebm.conv import ConvEBMConfig

        ebm_model = {**ConvEBMConfig.cifar10().to_dict(), "num_classes": num_classes}
        ebm_train = {"epochs": settings.ebm_epochs}
        cnn = CNNConfig.cifar10(num_classes=num_classes).to_dict()
        vit = ViTConfig.cifar10(num_classes=num_classes).to_dict()
        base_train = {**base_train, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128}
    else:
        from analogeq.train.recipes import DIGITS_DENSE_MODEL, DIGITS_DENSE_TRAIN

        ebm_model = {**DIGITS_DENSE_MODEL, "input_shape": shape, "num_classes": num_classes}
        ebm_train = {**DIGITS_DENSE_TRAIN, "epochs": settings.ebm_epochs}
        cnn = {"kind": "cnn", "input_shape": shape, "num_classes": num_classes}
        vit = {"kind": "vit", "input_shape": shape, "num_classes": num_classes}
    # the ViT learns slowly with the MLP's Adam 1e-3: 3e-3 (batch 32 in quick runs) reaches ~93% on
    # digits in 8 epochs and ~97% in 30 (measured); CIFAR keeps the SGD recipe
    vit_train = dict(base_train) if cifar_like else {**base_train, "lr": 3e-3, "batch_size": 32 if settings.baseline_epochs < 15 else 64}
    # the MLP has the dense EBM's layers (same weights, read without feedback)
    hidden = list(ebm_model.get("hidden_sizes", [256])) if ebm_model.get("kind") == "dense_ebm" else [256]
    mlp = {"kind": "mlp", "input_shape": shape, "num_classes": num_classes, "hidden_sizes": hidden}
    vib = {"kind": "vib_mlp", "input_shape": shape, "num_classes": num_classes}
    return [
        CompareEntry("ebm", "EBM", ebm_model, None, ebm_train),
        CompareEntry("mlp", "MLP", mlp, {"defence": "standard"}, base_train),
        CompareEntry("mlp_pgd_at", "MLP+PGD-AT", mlp, at, base_train),
        CompareEntry("mlp_trades", "MLP+TRADES", mlp, {"defence": "trades", "beta": 6.0, "eps": eps, "steps": steps}, base_train),
        CompareEntry("mlp_awp", "MLP+AWP", mlp, {"defence": "awp", "gamma": 5e-3, "base": at}, base_train),
        CompareEntry("mlp_weat", "MLP+WEAT", mlp, {"defence": "weat", "variant": "adv", "eps": eps, "steps": steps}, base_train),
        CompareEntry("vib", "VIB", vib, {"defence": "vib", "beta": 1e-3}, base_train),
        CompareEntry("cnn", "CNN", cnn, {"defence": "standard"}, base_train),
        CompareEntry("cnn_pgd_at", "CNN+PGD-AT", cnn, at, base_train),
        CompareEntry("vit", "ViT", vit, {"defence": "standard"}, vit_train),
    ]


def select_entries(entries: list[CompareEntry], names: list[str] | None) -> list[CompareEntry]:
    """The entries called ``names`` (in that order); None = all. Unknown names -> ValueError."""
    if names is None:
        return list(entries)
    by_name = {e.name: e for e in entries}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown compare model(s) {unknown}; allowed: {sorted(by_name)}")
    if not names:
        raise ValueError("at least one model must be compared")
    return [by_name[n] for n in names]


# --------------------------------------------------------------------------- training / loading
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def train_entry(entry: CompareEntry, splits, *, seed: int = 0, device: str = "cpu") -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """Train one entry; returns (model in eval mode, training wall time [s], training record)."""
    from analogeq.models import build_model

    model = build_model({**entry.model, "seed": seed})
    if entry.is_ebm:
        from analogeq.train import TrainConfig, train

        config = TrainConfig.from_dict({**entry.train, "seed": seed, "device": device})
        started = time.perf_counter()
        history = train(model, splits, config, progress=False)
        elapsed = time.perf_counter() - started
        return model.eval(), elapsed, {"final_val_accuracy": history.get("final_val_accuracy"), "train": config.to_dict()}
    from analogeq.baselines import BaselineTrainConfig, defence_from_dict, train_baseline

    config = BaselineTrainConfig.from_dict({**entry.train, "seed": seed, "device": device})
    defence = defence_from_dict(entry.defence or {"defence": "standard"})
    result = train_baseline(model, splits.train, defence, config, val=splits.val, progress=False)
    final_val = result.history[-1].get("val_accuracy") if result.history else None
    return model.eval(), result.train_time_s, {"final_val_accuracy": final_val, "train": config.to_dict(),
                                               "defence": defence.to_dict()}


def load_or_train(entry: CompareEntry, splits, *, seed: int, device: str, checkpoint_dir: str | Path | None,
                  dataset: str, split_seed: int) -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """Load ``checkpoint_dir/<name>.safetensors`` when it holds this entry (same model config,
    defence and training config), else train and save it there (when a directory is given)."""
    from analogeq.checkpoint import load_checkpoint, save_checkpoint

    path = Path(checkpoint_dir) / f"{_slug(entry.name)}.safetensors" if checkpoint_dir is not None else None
    wanted = {"entry": entry.to_dict(), "seed": seed, "dataset": dataset, "split_seed": split_seed}
    if path is not None and path.exists():
        model, metadata = load_checkpoint(path, device=device)
        if metadata.get("compare") == json.loads(json.dumps(wanted)):
            logger.info("%s: loaded %s", entry.label, path)
            return model.eval(), float(metadata.get("train_time_s", math.nan)), {"loaded_from": str(path), **metadata.get("record", {})}
        logger.info("%s: %s was trained differently; training again", entry.label, path)
    logger.info("%s: training", entry.label)
    model, elapsed, record = train_entry(entry, splits, seed=seed, device=device)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, model, {"compare": wanted, "train_time_s": elapsed, "record": record,
                                      "dataset": dataset, "split_seed": split_seed})
    return model, elapsed, record


# --------------------------------------------------------------------------- evaluation
def _suite(dataset: str, settings: CompareSettings):
    from analogeq.robustness.suite import QUICK

    linf, l2 = dataset_radii(dataset)
    return QUICK.replace(name="compare", linf_eps=(linf,), l2_eps=(l2,), headline_linf_eps=linf, headline_l2_eps=l2,
                         **settings.suite)


def _build_substrate(kind: str, model, *, card, seed: int, device: str, drift_time_s: float | None):
    from analogeq.substrates import build_substrate, substrate_options

    offered = {"card": card, "seed": seed, "device": device, "drift_time_s": drift_time_s}
    return build_substrate(kind, model, substrate_options(kind, offered=offered))


def _row(entry: CompareEntry, model, substrate_kind: str, card_name: str | None, report: dict[str, Any],
         train_time_s: float, eval_time_s: float) -> dict[str, Any]:
    from analogeq.baselines import parameter_count

    summary = report["summary"]
    attacks = report["attacks"]
    linf, l2 = summary["headline_linf_eps"], summary["headline_l2_eps"]

    def ci(key: str, eps: float) -> float | None:
        return attacks.get(key, {}).get(repr(float(eps)), {}).get("ci95")

    gates = report.get("gates", {})
    cost = report.get("cost") or {}
    return {
        "entry": entry.name,
        "model": entry.label,
        "kind": entry.model.get("kind"),
        "defence": (entry.defence or {}).get("defence", "eqprop" if entry.is_ebm else "standard"),
        "parameters": parameter_count(model),
        "substrate": substrate_kind,
        "card": card_name,
        "n_examples": report["n_examples"],
        "pgd_eps_linf": linf,
        "square_eps_linf": linf,
        "pgd_eps_l2": l2,
        "clean": summary["clean"],
        "pgd_linf": summary.get("pgd_linf"),
        "square_linf": summary.get("square"),
        "pgd_l2": summary.get("pgd_l2"),
        "worst_case_linf": summary.get("worst_case_linf"),
        "worst_case_l2": summary.get("worst_case_l2"),
        "transfer_linf": summary.get("transfer"),
        "corruptions_mean": summary.get("corruptions_mean"),
        "certified_accuracy": summary.get("certified_at_r"),
        "ci95": {"clean": report["clean"].get("ci95"), "pgd_linf": ci("pgd_linf", linf), "square_linf": ci("square_linf", linf)},
        "stochastic": bool(report["stochastic"].get("detected") or report["stochastic"].get("declared")),
        "sanity_gates_passed": report.get("sanity_gates_passed"),
        "failed_gates": sorted(k for k, g in gates.items() if not g.get("passed", True)),
        "train_time_s": train_time_s,
        "eval_time_s": eval_time_s,
        "energy_per_inference_J": cost.get("energy_per_inference_J"),
        "latency_per_inference_s": cost.get("latency_per_inference_s"),
    }


def compare(
    dataset: str = "digits",
    root: str | Path | None = None,
    *,
    models: list[str] | None = None,
    entries: list[CompareEntry] | None = None,
    substrates: tuple[str, ...] = ("float", "crossbar"),
    card: Any = "pcm",
    drift_time_s: float | None = None,
    quick: bool = False,
    n_examples: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    checkpoint_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    settings: CompareSettings | None = None,
) -> dict[str, Any]:
    """Train or load the models and evaluate them on every substrate (see the module docstring).

    dataset/root: :func:`analogeq.data.load_dataset` arguments (split seeded with ``seed``).
    models: entry names to run (default all of :func:`default_entries`); entries: your own list.
    substrates: kinds to evaluate on; a kind that is not registered is skipped with a note
        (``"crossbar"`` needs :mod:`analogeq.substrates.crossbar`). card: preset name, card file
        or card object for hardware substrates; drift_time_s: passed to hardware builders.
    quick: small budgets (see :func:`settings_for`). n_examples: test images evaluated.
    checkpoint_dir: load models from / save them to this folder. out_dir: write
        ``compare.json`` and ``compare.md`` there (atomically).
    Returns ``{"schema", "dataset", "rows", "skipped", "settings", "entries", "wall_time_s"}``.
    """
    from analogeq.data import load_dataset
    from analogeq.robustness.evaluate import evaluate_robustness
    from analogeq.substrates import substrate_kinds

    started = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if n_examples is not None and (isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 1):
        raise ValueError(f"n_examples must be an integer >= 1, got {n_examples!r}")
    if isinstance(substrates, str):
        substrates = (substrates,)
    substrates = tuple(substrates)
    if not substrates:
        raise ValueError("substrates must name at least one substrate kind, e.g. ('float', 'crossbar')")
    known_kinds = {"float", "crossbar", "spiking"} | set(substrate_kinds())
    bad = [k for k in substrates if k not in known_kinds]
    if bad:
        raise ValueError(f"unknown substrate kind(s) {bad}; allowed: {sorted(known_kinds)}")
    settings = settings or settings_for(quick, n_examples)
    splits = load_dataset(dataset, root=root, seed=seed)
    entries = entries if entries is not None else default_entries(
        splits.name, splits.input_shape, splits.num_classes, settings=settings)
    entries = select_entries(entries, models)
    card_obj, card_name = _resolve_card(card) if any(k != "float" for k in substrates) else (None, None)
    suite = _suite(splits.name, settings)
    n = min(settings.n_examples, len(splits.test))
    x, y = splits.test.x[:n], splits.test.y[:n]

    available = set(substrate_kinds())
    skipped = [{"substrate": k, "reason": f"substrate kind {k!r} is not registered (available: {sorted(available)})"}
               for k in substrates if k not in available]
    for s in skipped:
        logger.warning("skipping %s", s["reason"])
    rows = []
    for entry in entries:
        model, train_time_s, record = load_or_train(entry, splits, seed=seed, device=device, checkpoint_dir=checkpoint_dir,
                                                    dataset=splits.name, split_seed=seed)
        float_substrate = _build_substrate("float", model, card=None, seed=seed, device=device, drift_time_s=None)
        for kind in substrates:
            if kind not in available:
                continue
            try:
                substrate = float_substrate if kind == "float" else _build_substrate(
                    kind, model, card=card_obj, seed=seed, device=device, drift_time_s=drift_time_s)
            except (TypeError, ValueError, NotImplementedError) as exc:
                logger.warning("%s on %s: cannot build the substrate: %s", entry.label, kind, exc)
                skipped.append({"entry": entry.name, "substrate": kind, "reason": str(exc)})
                continue
            t0 = time.perf_counter()
            report = evaluate_robustness(substrate, x, y, suite=suite, seed=seed,
                                         reference_substrate=float_substrate if kind != "float" else None)
            row = _row(entry, model, kind, card_name if kind != "float" else None, report, train_time_s,
                       time.perf_counter() - t0)
            row["final_val_accuracy"] = record.get("final_val_accuracy")
            rows.append(row)
            logger.info("%s on %s: clean %.3f, PGD %.3f, Square %s", entry.label, kind, row["clean"],
                        row["pgd_linf"] if row["pgd_linf"] is not None else math.nan, row["square_linf"])
    result = {
        "schema": SCHEMA,
        "dataset": splits.name,
        "seed": seed,
        "quick": bool(quick),
        "rows": rows,
        "skipped": skipped,
        "settings": {**settings.to_dict(), "suite": suite.to_dict(), "card": card_name, "drift_time_s": drift_time_s,
                     "substrates": list(substrates)},
        "entries": [e.to_dict() for e in entries],
        "wall_time_s": time.perf_counter() - started,
    }
    result = _jsonable(result)
    if out_dir is not None:
        write_compare(result, out_dir)
    return result


def _resolve_card(card: Any) -> tuple[Any, str | None]:
    """(card object, name) from a preset name, a card file path or a card object."""
    if card is None:
        return None, None
    if isinstance(card, (str, Path)):
        from hardware_models.cards import list_presets, load_card, preset

        if os.path.exists(card):
            obj = load_card(card)
            return obj, getattr(obj, "name", str(card))
        if str(card) in list_presets():
            return preset(str(card)), str(card)
        raise ValueError(f"card {str(card)!r} is neither a card file nor a preset; presets: {list_presets()}")
    return card, getattr(card, "name", None)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):
        return _jsonable(obj.item())
    return obj


# --------------------------------------------------------------------------- output
def _fmt(v: Any, ci: Any = None) -> str:
    if v is None:
        return "-"
    text = f"{100 * v:.1f}"
    return f"{text} ± {100 * ci:.1f}" if ci else text


def to_markdown(result: dict[str, Any]) -> str:
    """The table as Markdown (accuracies in %, ± the 95% interval over noise draws)."""
    rows = result["rows"]
    radius = None
    for r in rows:
        if r.get("certified_accuracy"):
            radius = sorted(r["certified_accuracy"], key=float)[0]
            break
    eps = rows[0]["pgd_eps_linf"] if rows else None
    lines = [
        f"# Comparison on {result['dataset']} ({rows[0]['n_examples'] if rows else 0} test images, seed {result['seed']})",
        "",
        f"PGD and Square: L_inf eps {eps:g}; worst L_inf: per example over every L_inf attack at that eps; "
        f"corruptions: mean accuracy over the suite's types and severities; "
        f"certified: randomized smoothing at L2 radius {radius}." if eps is not None else "",
        "",
        "| model | defence | substrate | params | clean | PGD | Square | worst L_inf | corruptions | certified | train s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sub = r["substrate"] + (f" ({r['card']})" if r.get("card") else "")
        cert = (r.get("certified_accuracy") or {}).get(radius) if radius else None
        ci = r.get("ci95") or {}
        lines.append(
            f"| {r['model']} | {r['defence']} | {sub} | {r['parameters']} | {_fmt(r['clean'], ci.get('clean'))} | "
            f"{_fmt(r['pgd_linf'], ci.get('pgd_linf'))} | {_fmt(r['square_linf'], ci.get('square_linf'))} | "
            f"{_fmt(r.get('worst_case_linf'))} | {_fmt(r['corruptions_mean'])} | {_fmt(cert)} | {r['train_time_s']:.1f} |"
        )
    for s in result.get("skipped", []):
        lines.append("")
        lines.append(f"Skipped {s.get('entry', 'all models')} on {s['substrate']}: {s['reason']}")
    return "\n".join(lines) + "\n"


def write_compare(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``compare.json`` and ``compare.md`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "compare.json", out / "compare.md"
    atomic_write(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic_write(md_path, to_markdown(result))
    return json_path, md_path


__all__ = ["CompareEntry", "CompareSettings", "compare", "default_entries", "select_entries", "settings_for",
           "to_markdown", "train_entry", "write_compare"]
