"""Checkpoints: one safetensors file holding a model's weights, its config and training metadata.

Layout (safetensors: a JSON header of string entries, then raw tensor bytes; never pickled, so
loading cannot run code):

* tensors: the model's ``state_dict()``;
* header entries: ``format`` = ``"analogeq-checkpoint"``, ``format_version`` = ``"1"``,
  ``model_config`` (JSON: ``model.config.to_dict()``, with ``kind``), ``metadata`` (JSON: what
  the caller gives, e.g. dataset, seed, accuracy, plus ``versions`` of python, torch, numpy and
  analogeq added here), and ``sha256``: the SHA-256 of the config, the metadata and every
  tensor (name, dtype, shape and bytes, in name order). Loading recomputes it, so a modified
  or corrupted file fails with a clear error instead of loading wrong weights.

Files are written atomically (:func:`hardware_models.files.atomic_write`).
``load_checkpoint(path)`` needs nothing but the file: the model is rebuilt from its config
through :func:`analogeq.models.build_model`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from hardware_models.files import atomic_write

FORMAT = "analogeq-checkpoint"
FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A file that is not a readable, intact analogeq checkpoint."""


def _versions() -> dict[str, str]:
    import numpy

    import analogeq

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "analogeq": analogeq.__version__,
    }


def _digest(config_json: str, metadata_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for part in (config_json, metadata_json):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    try:
        return json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint config/metadata must be JSON-serialisable (no NaN): {exc}") from exc


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (weights + ``model.config``) and ``metadata`` to ``path`` atomically."""
    from safetensors.torch import save

    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise TypeError(f"model must have a .config with to_dict() (built by analogeq.models.build_model), got {type(model).__name__}")
    config_dict = config.to_dict()
    if "kind" not in config_dict:
        raise ValueError("model.config.to_dict() must include 'kind' so the checkpoint can be rebuilt")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    meta = dict(metadata or {})
    meta.setdefault("versions", _versions())
    config_json = _canonical(config_dict)
    metadata_json = _canonical(meta)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    bad = _nonfinite_tensors(tensors)
    if bad:
        raise ValueError(f"refusing to save {str(path)!r}: the model has NaN or infinite weights ({bad}); "
                         "training diverged: lower the learning rate or beta")
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": config_json,
        "metadata": metadata_json,
        "sha256": _digest(config_json, metadata_json, tensors),
    }
    data = save(tensors, metadata=header)
    return atomic_write(path, data)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """Read and verify a checkpoint: ``(model_config, metadata, tensors)``; no model is built."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {str(path)!r}")
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        header = _read_header(raw)
    except (SafetensorError, ValueError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{str(path)!r} is not a readable safetensors file (truncated, corrupted or another format): {exc}"
        ) from exc
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a safetensors file but not an analogeq checkpoint (no format={FORMAT!r} entry)")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r}: checkpoint format version {header.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")
    for key in ("model_config", "metadata", "sha256"):
        if key not in header:
            raise CheckpointError(f"{str(path)!r}: checkpoint header lacks {key!r}")
    if _digest(header["model_config"], header["metadata"], tensors) != header["sha256"]:
        raise CheckpointError(
            f"{str(path)!r} failed its integrity check: the SHA-256 of its contents does not match the stored one "
            "(the file was modified or corrupted)"
        )
    bad = _nonfinite_tensors(tensors)
    if bad:
        raise CheckpointError(f"{str(path)!r} holds NaN or infinite weights ({bad}); it cannot be evaluated: "
                              "retrain (lower the learning rate or beta) or load an earlier checkpoint")
    return json.loads(header["model_config"]), json.loads(header["metadata"]), tensors


def _nonfinite_tensors(tensors: dict[str, torch.Tensor]) -> str:
    """``"name: n of m"`` for every floating-point tensor with NaN or infinite entries ('' if none)."""
    parts = []
    for name, t in tensors.items():
        if torch.is_floating_point(t):
            n_bad = int((~torch.isfinite(t)).sum())
            if n_bad:
                parts.append(f"{name}: {n_bad} of {t.numel()}")
    return ", ".join(parts)


def _read_header(raw: bytes) -> dict[str, str]:
    """The ``__metadata__`` entries of a safetensors byte string."""
    if len(raw) < 8:
        raise ValueError("file shorter than the 8-byte safetensors header length")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        raise ValueError("header length exceeds the file size")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    return meta if isinstance(meta, dict) else {}


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model saved in ``path`` (on ``device``, in eval mode) and return it with its metadata."""
    from analogeq.models import build_model

    config, metadata, tensors = read_checkpoint(path)
    model = build_model(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{str(path)!r}: weights do not fit the model described by its config: {exc}") from exc
    return model.to(device).eval(), metadata


__all__ = ["CheckpointError", "load_checkpoint", "read_checkpoint", "save_checkpoint"]
