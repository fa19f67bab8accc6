"""Model registry: build any network of the package from a JSON-able config dict.

``build_model({"kind": "dense_ebm", ...})`` looks ``kind`` up, builds the config with the
kind's ``config_cls.from_dict`` (which validates every field) and the model from it. Other
parts of the package add kinds with :func:`register_model_kind` (e.g. the feed-forward
baselines). A model built here has ``model.config`` with ``to_dict()`` including ``kind``,
which is what checkpoints store.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig

_KINDS: dict[str, tuple[type, Callable[[Any], Any]]] = {}

#: imported before a lookup so that their ``register_model_kind`` calls have run
#: (``analogeq.baselines`` registers the feed-forward baselines in its ``__init__``; it imports
#: this module, hence the import on first lookup instead of at the top; the resistive substrate's
#: ``drn`` module registers ``resistive_drn``, a deep resistive network with its conductances as buffers)
PLUGIN_MODULES = ["analogeq.baselines", "analogeq.substrates.resistive.drn"]


def register_model_kind(kind: str, config_cls: type, model_cls: Callable[[Any], Any]) -> None:
    """Register ``kind``: ``config_cls.from_dict(d)`` builds its config, ``model_cls(config)`` the model.

    Re-registering the same kind with the same classes is a no-op; with other classes an error.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"model kind must be a non-empty string, got {kind!r}")
    if not hasattr(config_cls, "from_dict"):
        raise TypeError(f"config_cls for {kind!r} must offer from_dict(dict), got {config_cls!r}")
    old = _KINDS.get(kind)
    if old is not None and old != (config_cls, model_cls):
        raise ValueError(f"model kind {kind!r} is already registered with {old[0].__name__}")
    _KINDS[kind] = (config_cls, model_cls)


def _load_plugins() -> None:
    for module in PLUGIN_MODULES:  # packages that register their kinds when imported
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def model_kinds() -> list[str]:
    """The registered model kinds."""
    _load_plugins()
    return sorted(_KINDS)


def config_from_dict(config: dict[str, Any]):
    """The validated config object of ``config["kind"]``."""
    if not isinstance(config, dict):
        raise TypeError(f"model config must be a dict with a 'kind' field, got {type(config).__name__}")
    _load_plugins()
    kind = config.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; allowed: {sorted(_KINDS)}")
    return _KINDS[kind][0].from_dict(config)


def build_model(config: dict[str, Any] | Any):
    """Build a model from a config dict (with ``kind``) or from a config object of a registered kind."""
    _load_plugins()
    if not isinstance(config, dict):
        for config_cls, model_cls in _KINDS.values():
            if isinstance(config, config_cls):
                return model_cls(config)
        raise TypeError(f"config must be a dict with 'kind' or a registered config object, got {type(config).__name__}")
    cfg = config_from_dict(config)
    return _KINDS[config["kind"]][1](cfg)


register_model_kind("dense_ebm", DenseEBMConfig, DenseEBM)
register_model_kind("conv_ebm", ConvEBMConfig, ConvEBM)

__all__ = ["build_model", "config_from_dict", "model_kinds", "register_model_kind"]
