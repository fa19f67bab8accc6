"""What the parameter-dict exporters (:mod:`.aihwkit`, :mod:`.crosssim`) share: reading another
simulator's JSON tree with errors that name the JSON path, refusing a lossy conversion (or
logging each loss), and the card an import starts from.

A foreign tree is read with JSON paths (``$.forward.out_bound``) as field names, so every error
says where in the file the fault is; numbers and flags are checked by
:mod:`hardware_models.params`. A conversion that loses something (a card field the other
simulator cannot express, or a setting the card cannot express) is refused with every loss
listed, unless the caller allows loss, in which case each one is logged.
"""

from __future__ import annotations

from typing import Any, Callable

from hardware_models.cards import CrossbarCard, preset

__all__ = [
    "FORMATS",
    "NO_FAULTS",
    "base_card_dict",
    "check_card",
    "ideal_device_dict",
    "known_keys",
    "refuse_or_log_losses",
    "refuse_other_formats",
    "require_mapping",
]

#: how each parameter-dict format is named in messages, and the top-level keys that give it away
FORMATS: dict[str, tuple[str, str]] = {
    "aihwkit": ("an aihwkit parameter dict", "forward, noise_model"),
    "crosssim": ("CrossSim parameters", "xbar"),
}

#: the ``faults`` section of a card without stuck-at cells (neither simulator models them)
NO_FAULTS: dict[str, float] = {"stuck_at_gmin_rate": 0.0, "stuck_at_gmax_rate": 0.0}


def check_card(card: Any) -> None:
    """TypeError unless ``card`` is a :class:`~hardware_models.cards.CrossbarCard`."""
    if not isinstance(card, CrossbarCard):
        raise TypeError(f"expected a crossbar card (CrossbarCard), got {type(card).__name__}")


def require_mapping(value: Any, path: str) -> dict[str, Any]:
    """``value`` if it is a JSON object (dict), else TypeError naming ``path``."""
    if not isinstance(value, dict):
        raise TypeError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def known_keys(section: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """ValueError listing the keys of ``section`` that are not in ``allowed``."""
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {list(allowed)}")


def _looks_like(data: dict[str, Any], fmt: str) -> bool:
    if fmt == "aihwkit":
        return "noise_model" in data and "forward" in data
    return "xbar" in data


def refuse_other_formats(data: dict[str, Any], expected: str) -> None:
    """ValueError if ``data`` is another format's tree or an analogeq card, not ``expected``."""
    what = FORMATS[expected][0]
    for fmt, (name, keys) in FORMATS.items():
        if fmt != expected and _looks_like(data, fmt):
            raise ValueError(f"$: this looks like {name} ({keys}), not {what}")
    if "card_type" in data:
        raise ValueError(f"$: this is an analogeq device card (card_type), not {what}")


def refuse_or_log_losses(losses: list[str], *, allow_loss: bool, refusal: str, rest: str,
                         log: Callable[[str], None]) -> None:
    """Raise ``ValueError(refusal + every loss + how to allow loss)`` unless ``allow_loss``; then
    ``log(loss)`` for each loss (``rest``: what allowing loss does, "write"/"import the rest")."""
    if losses and not allow_loss:
        raise ValueError(
            refusal + "; ".join(losses)
            + f" (pass allow_loss=True, or --allow-loss on the command line, to {rest})"
        )
    for loss in losses:
        log(loss)


def base_card_dict(base: CrossbarCard | None, default_preset: str, name: str | None) -> dict[str, Any]:
    """The dict of the card an import starts from (``base``, default the preset
    ``default_preset``), renamed to ``name`` when given."""
    base = preset(default_preset) if base is None else base
    check_card(base)
    out = base.to_dict()
    if name is not None:
        out["name"] = name
    return out


def ideal_device_dict(g_min_S: float, g_max_S: float) -> dict[str, Any]:
    """The ``device`` section of an ideal device with range [g_min_S, g_max_S] [S]."""
    return {"kind": "ideal", "g_min_S": g_min_S, "g_max_S": g_max_S,
            "programming_noise_scale": 1.0, "read_noise_scale": 1.0, "drift_scale": 1.0}
