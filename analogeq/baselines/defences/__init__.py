"""Defences as training options: each a frozen dataclass with its paper's equation and settings.

==========  ==========  ==================================================================
name        class       loss (see each module for the equation, sources and settings)
==========  ==========  ==================================================================
standard    Standard    CE(f(x), y)
pgd_at      PGDAT       CE(f(x'), y), x' = PGD on the CE (Madry et al. 2018)
trades      TRADES      CE(f(x), y) + beta KL(p(x) || p(x')), beta 6 (Zhang et al. 2019)
awp         AWP         base loss at w + v, ||v_l|| = gamma ||w_l||, gamma 5e-3 (Wu et al. 2020)
weat        WEAT        1/B sum w_i [CE(f(x'), y) + beta KL], w = 1/softplus(|E(x)|) (Mirza et al. 2024)
vib         VIB         CE(dec(z), y) + beta KL(q(z|x) || N(0, I)), beta 1e-3 (Alemi et al. 2017)
==========  ==========  ==================================================================

``build_defence(name, **params)`` and ``defence_from_dict(d)`` build one by name; unknown names
and bad hyperparameters raise ``ValueError`` naming the field.
"""

from __future__ import annotations

from typing import Any

from analogeq.baselines.defences.awp import AWP
from analogeq.baselines.defences.common import energy, kl_divergence
from analogeq.baselines.defences.pgd_at import PGDAT
from analogeq.baselines.defences.standard import Standard
from analogeq.baselines.defences.trades import TRADES, trades_loss
from analogeq.baselines.defences.vib import VIB, gaussian_kl_to_standard
from analogeq.baselines.defences.weat import WEAT, weat_loss, weat_weights

DEFENCES: dict[str, type] = {
    "standard": Standard,
    "pgd_at": PGDAT,
    "trades": TRADES,
    "awp": AWP,
    "weat": WEAT,
    "vib": VIB,
}

#: defences AWP can sit on
AWP_BASES = ("pgd_at", "trades")


def build_defence(name: str, **params: Any) -> Any:
    """The defence ``name`` with hyperparameters ``params``.

    For ``"awp"``, ``base`` is a PGDAT/TRADES object, a base name ("pgd_at" default, "trades")
    or a dict ``{"defence": name, ...}``; ``base_params`` (dict) configures a base given by name.
    """
    if name not in DEFENCES:
        raise ValueError(f"unknown defence {name!r}; allowed: {sorted(DEFENCES)}")
    if name == "awp":
        base = params.pop("base", "pgd_at")
        base_params = params.pop("base_params", None) or {}
        if isinstance(base, dict):
            base = defence_from_dict(base)
        elif isinstance(base, str):
            if base not in AWP_BASES:
                raise ValueError(f"AWP.base must be one of {list(AWP_BASES)}, got {base!r}")
            base = build_defence(base, **base_params)
        params["base"] = base
    try:
        return DEFENCES[name](**params)
    except TypeError as exc:
        allowed = sorted(f for f in DEFENCES[name].__dataclass_fields__)
        raise ValueError(f"bad parameters for defence {name!r}: {exc}; allowed: {allowed}") from None


def defence_from_dict(d: dict[str, Any]) -> Any:
    """Inverse of ``defence.to_dict()`` (derived keys such as ``effective_step_size`` are ignored)."""
    if not isinstance(d, dict) or "defence" not in d:
        raise ValueError(f"a defence dict needs a 'defence' name, got {d!r}")
    params = {k: v for k, v in d.items() if k not in ("defence", "effective_step_size")}
    return build_defence(d["defence"], **params)


__all__ = [
    "AWP",
    "AWP_BASES",
    "DEFENCES",
    "PGDAT",
    "Standard",
    "TRADES",
    "VIB",
    "WEAT",
    "build_defence",
    "defence_from_dict",
    "energy",
    "gaussian_kl_to_standard",
    "kl_divergence",
    "trades_loss",
    "weat_loss",
    "weat_weights",
]
