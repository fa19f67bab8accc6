"""Substrates: a trained network bound to the hardware that computes it (see ``base``).

``build_substrate(kind, model, **options)`` builds one by name; each kind registers its
builder here with ``register_substrate``. Builders validate their own options.
"""

from __future__ import annotations

from typing import Any, Callable

from analogeq.substrates.base import GradientSpec, Substrate, check_input, mean_ci95

_BUILDERS: dict[str, Callable[..., Substrate]] = {}


def register_substrate(kind: str, builder: Callable[..., Substrate]) -> None:
    """Register ``builder(model, **options) -> Substrate`` under ``kind``."""
    _BUILDERS[kind] = builder


def substrate_kinds() -> list[str]:
    _load_builtin()
    return sorted(_BUILDERS)


def substrate_option_names(kind: str) -> list[str] | None:
    """Keyword options the builder of ``kind`` names (None if it names none and takes ``**options``)."""
    import inspect

    _load_builtin()
    if kind not in _BUILDERS:
        raise ValueError(f"unknown substrate kind {kind!r}; allowed: {sorted(_BUILDERS)}")
    params = list(inspect.signature(_BUILDERS[kind]).parameters.values())[1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not names and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return names


def build_substrate(kind: str, model: Any, **options: Any) -> Substrate:
    """Build the substrate ``kind`` ("float", "crossbar", "spiking", ...) running ``model``."""
    _load_builtin()
    if kind not in _BUILDERS:
        raise ValueError(f"unknown substrate kind {kind!r}; allowed: {sorted(_BUILDERS)}")
    return _BUILDERS[kind](model, **options)


def _float_builder(model: Any, device: str = "cpu") -> Substrate:
    from analogeq.substrates.float import FloatSubstrate

    return FloatSubstrate(model, device=device)


def _load_builtin() -> None:
    """Register the built-in kinds (imported lazily: brian2 and numba load only when used)."""
    if "float" not in _BUILDERS:
        register_substrate("float", _float_builder)
    for module in ("analogeq.substrates.crossbar", "analogeq.substrates.spiking"):
        try:
            __import__(module)  # a module registers its kind on import
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


__all__ = [
    "GradientSpec",
    "Substrate",
    "build_substrate",
    "check_input",
    "mean_ci95",
    "register_substrate",
    "substrate_kinds",
    "substrate_option_names",
]
