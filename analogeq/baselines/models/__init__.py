"""Baseline feed-forward models: MLP, small CNN, small ViT, VIB classifier.

Each kind is a frozen config dataclass (``to_dict``/``from_dict``, validated at construction)
and an ``nn.Module`` built from it that follows the ClassifierModel convention (see
:mod:`analogeq.baselines.models.common`).

=========  ===============  =================  ===============================================
kind       config           model              digits default (parameters)
=========  ===============  =================  ===============================================
mlp        MLPConfig        MLP                64-256-10, ReLU (19 210 = dense EBM 64-256-10)
cnn        CNNConfig        CNN                conv 16, 32 + pool, 128 -> 10 (6 090 = conv EBM)
vit        ViTConfig        ViT                patch 2, D 32, depth 2, 4 heads (18 218)
vib_mlp    VIBConfig        VIBClassifier      64-128-(2x32), 32 -> 10 (16 906)
=========  ===============  =================  ===============================================

``build_baseline(config)`` builds one from a config object or its JSON dict; importing
``analogeq.baselines`` also registers the kinds with the core model registry
(``analogeq.models``), so checkpoints of baselines load through ``analogeq.models.build_model``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from analogeq.baselines.models.cnn import CNN, CNNConfig
from analogeq.baselines.models.common import parameter_count
from analogeq.baselines.models.mlp import MLP, MLPConfig
from analogeq.baselines.models.vib import VIBClassifier, VIBConfig
from analogeq.baselines.models.vit import ViT, ViTConfig
from analogeq.models import register_model_kind

#: kind -> (config class, model class)
BASELINE_KINDS: dict[str, tuple[type, type]] = {
    "mlp": (MLPConfig, MLP),
    "cnn": (CNNConfig, CNN),
    "vit": (ViTConfig, ViT),
    "vib_mlp": (VIBConfig, VIBClassifier),
}


def baseline_config(kind: str, **fields: Any) -> Any:
    """The config of baseline ``kind`` with ``fields`` (unknown kind -> ValueError)."""
    if kind not in BASELINE_KINDS:
        raise ValueError(f"unknown baseline model kind {kind!r}; allowed: {sorted(BASELINE_KINDS)}")
    return BASELINE_KINDS[kind][0](**fields)


def build_baseline(config: Any) -> nn.Module:
    """Build a baseline from its config object or its JSON dict (with a ``kind`` field)."""
    if isinstance(config, dict):
        kind = config.get("kind")
        if kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline model kind {kind!r}; allowed: {sorted(BASELINE_KINDS)}")
        config = BASELINE_KINDS[kind][0].from_dict(config)
    for config_cls, model_cls in BASELINE_KINDS.values():
        if isinstance(config, config_cls):
            return model_cls(config)
    raise TypeError(f"config must be a baseline config or its dict, got {type(config).__name__}")


def register_with_core() -> bool:
    """Register every baseline kind with the core registry
    (:func:`analogeq.models.register_model_kind`); returns True."""
    for kind, (config_cls, model_cls) in BASELINE_KINDS.items():
        register_model_kind(kind, config_cls, model_cls)
    return True


__all__ = [
    "BASELINE_KINDS",
    "CNN",
    "CNNConfig",
    "MLP",
    "MLPConfig",
    "VIBClassifier",
    "VIBConfig",
    "ViT",
    "ViTConfig",
    "baseline_config",
    "build_baseline",
    "parameter_count",
    "register_with_core",
]
