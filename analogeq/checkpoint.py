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

from hardware_models.errors import AnalogeqError, one_line
from hardware_models.files import atomic_write

FORMAT = "analogeq-checkpoint"
FORMAT_VERSION = "1"


class CheckpointError(AnalogeqError):
    """A file that is not a readable, intact analogeq checkpoint (one line: long or multi-line
    messages from safetensors or torch are joined and cut)."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


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
    """Read and verify a checkpoint: ``(model_config, metadata, tensors)``; no model is built.

    The header is read and checked first (format, strict JSON of the config and the metadata:
    no NaN), then the tensors. Every error is a :class:`CheckpointError` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{str(path)!r} is a folder; a checkpoint file (.safetensors) is needed")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {str(path)!r}")
    raw = path.read_bytes()
    try:
        header, _ = _read_header(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(
            f"{str(path)!r} is not a readable safetensors file (truncated, corrupted or another format): {exc}"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a safetensors file but not an analogeq checkpoint (no format={FORMAT!r} entry)")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r}: checkpoint format version {header.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")
    for key in ("model_config", "metadata", "sha256"):
        if key not in header:
            raise CheckpointError(f"{str(path)!r}: checkpoint header lacks {key!r}")
    config = _strict_json_object(header["model_config"], path, "model_config")
    metadata = _strict_json_object(header["metadata"], path, "metadata")
    try:
        tensors = load(raw)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{str(path)!r} is not a readable safetensors file (truncated, corrupted or another format): {exc}"
        ) from None
    if _digest(header["model_config"], header["metadata"], tensors) != header["sha256"]:
        raise CheckpointError(
            f"{str(path)!r} failed its integrity check: the SHA-256 of its contents does not match the stored one "
            "(the file was modified or corrupted)"
        )
    bad = _nonfinite_tensors(tensors)
    if bad:
        raise CheckpointError(f"{str(path)!r} holds NaN or infinite weights ({bad}); it cannot be evaluated: "
                              "retrain (lower the learning rate or beta) or load an earlier checkpoint")
    return config, metadata, tensors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (numbers must be finite)")


def _strict_json_object(text: Any, path: Path, entry: str) -> dict[str, Any]:
    """A header entry parsed as a JSON object with finite numbers only; CheckpointError otherwise."""
    try:
        if not isinstance(text, str):
            raise ValueError(f"a {type(text).__name__}, not JSON text")
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{str(path)!r}: header entry {entry!r} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{str(path)!r}: header entry {entry!r} must be a JSON object, got {type(obj).__name__}")
    return obj


def _nonfinite_tensors(tensors: dict[str, torch.Tensor]) -> str:
    """``"name: n of m"`` for every floating-point tensor with NaN or infinite entries ('' if none)."""
    parts = []
    for name, t in tensors.items():
        if torch.is_floating_point(t):
            n_bad = int((~torch.isfinite(t)).sum())
            if n_bad:
                parts.append(f"{name}: {n_bad} of {t.numel()}")
    return ", ".join(parts)


def _read_header(raw: bytes) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """The ``__metadata__`` entries of a safetensors byte string, and every tensor's shape."""
    if len(raw) < 8:
        raise ValueError("file shorter than the 8-byte safetensors header length")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        raise ValueError("header length exceeds the file size")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the safetensors header is not a JSON object")
    meta = header.get("__metadata__", {})
    shapes = {}
    for name, entry in header.items():
        if name != "__metadata__":
            shape = entry.get("shape") if isinstance(entry, dict) else None
            if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError(f"tensor {name[:60]!r} has no valid shape in the header")
            shapes[name] = tuple(shape)
    return (meta if isinstance(meta, dict) else {}), shapes


def _expected_shapes(config: dict[str, Any], path: Path) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of the model ``config`` describes, without allocating it: from the
    config's own ``state_shapes()`` where its kind offers one (a model held in numpy buffers, such
    as ``resistive_drn``, would allocate them even on torch's meta device), else from a model
    built on the ``meta`` device (shapes only, no memory). A config that claims 10^8 hidden units
    costs nothing either way."""
    from analogeq.models import build_model, config_from_dict

    try:
        cfg = config_from_dict(config)
        if callable(getattr(cfg, "state_shapes", None)):
            return {k: tuple(int(d) for d in v) for k, v in cfg.state_shapes().items()}
        with torch.device("meta"):
            model = build_model(cfg)
    except (ValueError, TypeError, KeyError, RuntimeError, OverflowError) as exc:
        raise CheckpointError(f"{str(path)!r}: its model_config does not describe a model: {exc}") from None
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model saved in ``path`` (on ``device``, in eval mode) and return it with its metadata."""
    from analogeq.models import build_model

    config, metadata, tensors = read_checkpoint(path)
    path = Path(path)
    expected = _expected_shapes(config, path)  # compared before the model is allocated
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        diff = sorted(set(expected) ^ set(found)) or [k for k in sorted(expected) if expected[k] != found[k]]
        k = diff[0]
        raise CheckpointError(f"{str(path)!r}: weights do not fit the model described by its config: "
                              f"{k!r} is {found.get(k, 'missing')} in the file, {expected.get(k, 'not in the model')} "
                              f"by the config ({len(diff)} tensor(s) differ)")
    try:
        model = build_model(config)
    except (ValueError, TypeError, KeyError, RuntimeError, OverflowError) as exc:
        raise CheckpointError(f"{str(path)!r}: its model_config does not describe a model: {exc}") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{str(path)!r}: weights do not fit the model described by its config: {exc}") from exc
    return model.to(device).eval(), metadata


__all__ = ["CheckpointError", "load_checkpoint", "read_checkpoint", "save_checkpoint"]
