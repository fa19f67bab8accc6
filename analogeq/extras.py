"""Which optional install extra provides a missing module, for a one-line error.

The core install (``pip install analogeq``) is the device physics (``hardware_models``: numpy,
scipy, numba, jsonschema). The rest of analogeq needs extras (pyproject.toml): ``ml`` (torch,
scikit-learn, safetensors, nir, matplotlib, tqdm), ``spiking`` (brian2), ``sweeps`` (dask),
``data`` (mlxtend); ``all`` installs every one.
"""

from __future__ import annotations

__all__ = ["EXTRA_OF", "missing_extra_message"]

#: top-level module -> the extra that installs it
EXTRA_OF = {
    "torch": "ml", "sklearn": "ml", "safetensors": "ml", "nir": "ml", "matplotlib": "ml", "tqdm": "ml",
    "brian2": "spiking", "dask": "sweeps", "distributed": "sweeps", "tomli": "sweeps", "mlxtend": "data",
}


def missing_extra_message(exc: BaseException) -> str | None:
    """One line naming the missing module and the install command, when ``exc`` is a
    ModuleNotFoundError for a module of an extra; None otherwise."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return f"{top} is not installed: pip install 'analogeq[all]' (or only the '{extra}' extra: 'analogeq[{extra}]')"
