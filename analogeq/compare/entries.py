"""The models of the comparison table and the budgets of one comparison.

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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from analogeq.baselines.models import CNNConfig, ViTConfig
from analogeq.ebm.conv import ConvEBMConfig
from analogeq.train.recipes import DIGITS_DENSE_MODEL, DIGITS_DENSE_TRAIN

__all__ = ["CompareEntry", "CompareSettings", "dataset_radii", "default_entries", "select_entries", "settings_for"]


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
    settings = settings or settings_for(False)
    eps, _ = dataset_radii(dataset)
    steps = settings.attack_train_steps
    shape = list(input_shape)
    cifar_like = tuple(input_shape) == (3, 32, 32)
    base_train = {"epochs": settings.baseline_epochs}
    at = {"defence": "pgd_at", "eps": eps, "steps": steps}
    if cifar_like:
        ebm_model = {**ConvEBMConfig.cifar10().to_dict(), "num_classes": num_classes}
        ebm_train = {"epochs": settings.ebm_epochs}
        cnn = CNNConfig.cifar10(num_classes=num_classes).to_dict()
        vit = ViTConfig.cifar10(num_classes=num_classes).to_dict()
        base_train = {**base_train, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128}
    else:
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
