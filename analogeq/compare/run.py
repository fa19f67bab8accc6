"""One comparison: every entry trained or loaded, then measured on every substrate.

``compare(...)`` trains (or loads) every model of a list of *entries*, evaluates each with the
robustness harness (:func:`analogeq.robustness.evaluate.evaluate_robustness`: PGD, Square,
natural corruptions, randomized-smoothing certification, sanity gates) on every requested
substrate (``"float"``, and ``"crossbar"`` with a device card when that substrate is
registered), and returns one table: a list of rows, one per (entry, substrate).

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

import logging
import math
import time
from pathlib import Path
from typing import Any

from analogeq import substrates as substrate_registry  # the registry's functions, looked up when called
from analogeq.baselines import parameter_count
from analogeq.compare.entries import CompareEntry, CompareSettings, dataset_radii, default_entries, select_entries, settings_for
from analogeq.compare.markdown import write_compare
from analogeq.compare.training import load_or_train
from analogeq.data import load_dataset
from analogeq.progress import overall
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.suite import QUICK
from hardware_models.cards import resolve_card
from hardware_models.jsonable import to_jsonable
from hardware_models.params import check_int

logger = logging.getLogger(__name__)

SCHEMA = "analogeq.compare/1"

__all__ = ["SCHEMA", "compare"]


def _suite(dataset: str, settings: CompareSettings):
    linf, l2 = dataset_radii(dataset)
    return QUICK.replace(name="compare", linf_eps=(linf,), l2_eps=(l2,), headline_linf_eps=linf, headline_l2_eps=l2,
                         **settings.suite)


def _build_substrate(kind: str, model, *, card, seed: int, device: str, drift_time_s: float | None):
    offered = {"card": card, "seed": seed, "device": device, "drift_time_s": drift_time_s}
    return substrate_registry.build_substrate(kind, model, substrate_registry.substrate_options(kind, offered=offered))


def _row(entry: CompareEntry, model, substrate_kind: str, card_name: str | None, report: dict[str, Any],
         train_time_s: float, eval_time_s: float) -> dict[str, Any]:
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
    started = time.perf_counter()
    check_int("seed", seed, minimum=0, owner="compare")
    if n_examples is not None:
        check_int("n_examples", n_examples, minimum=1, owner="compare")
    substrates = _substrate_kinds(substrates)
    settings = settings or settings_for(quick, n_examples)
    splits = load_dataset(dataset, root=root, seed=seed)
    entries = entries if entries is not None else default_entries(
        splits.name, splits.input_shape, splits.num_classes, settings=settings)
    entries = select_entries(entries, models)
    card_obj, card_name = _card(card) if any(k != "float" for k in substrates) else (None, None)
    suite = _suite(splits.name, settings)
    n = min(settings.n_examples, len(splits.test))
    x, y = splits.test.x[:n], splits.test.y[:n]

    available = set(substrate_registry.substrate_kinds())
    skipped = [{"substrate": k, "reason": f"substrate kind {k!r} is not registered (available: {sorted(available)})"}
               for k in substrates if k not in available]
    for s in skipped:
        logger.warning("skipping %s", s["reason"])
    rows = []
    # one overall bar: per model its training (or loading) and one evaluation per available substrate
    units = len(entries) * (1 + sum(k in available for k in substrates))
    with overall(units, "compare", unit="step") as bar:
        for entry in entries:
            model, train_time_s, record = load_or_train(entry, splits, seed=seed, device=device, checkpoint_dir=checkpoint_dir,
                                                        dataset=splits.name, split_seed=seed)
            bar.step(f"{entry.label} trained")
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
                    bar.step(f"{entry.label} on {kind} (skipped)")
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
                bar.step(f"{entry.label} on {kind}")
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
    result = to_jsonable(result)
    if out_dir is not None:
        write_compare(result, out_dir)
    return result


def _substrate_kinds(substrates: str | tuple[str, ...]) -> tuple[str, ...]:
    """The requested substrate kinds as a tuple; an unknown kind is a ValueError (a known kind
    that is not registered in this installation is skipped later, with a note)."""
    substrates = (substrates,) if isinstance(substrates, str) else tuple(substrates)
    if not substrates:
        raise ValueError("substrates must name at least one substrate kind, e.g. ('float', 'crossbar')")
    known_kinds = {"float", "crossbar", "spiking"} | set(substrate_registry.substrate_kinds())
    bad = [k for k in substrates if k not in known_kinds]
    if bad:
        raise ValueError(f"unknown substrate kind(s) {bad}; allowed: {sorted(known_kinds)}")
    return substrates


def _card(card: Any) -> tuple[Any, str | None]:
    """(card object, name) for the hardware substrates: :func:`hardware_models.cards.resolve_card`
    (an existing card file wins, else a preset name, else a CardError listing the presets)."""
    if card is None:
        return None, None
    obj = resolve_card(card)
    return obj, getattr(obj, "name", None)
