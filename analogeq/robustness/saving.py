"""The adversarial inputs of an evaluation as one safetensors file, with the attack configs.

:func:`save_adversarial` writes what ``evaluate_robustness(..., keep_adversarial=True)`` returned:

* tensors ``x`` (the clean batch, float32) and ``y`` (int64), and per run ``<key>/x_adv``
  (float32, like ``x``; the first m examples for a run on a subset) and ``<key>/correct``
  (uint8 (draws, m): 1 where the draw classified the adversarial input correctly), ``<key>``
  being ``<attack>@<eps>`` (``pgd_l2@1.0``) or ``cw_l2``; plus ``clean/correct``;
* metadata (strings, as safetensors stores them): ``schema`` (:data:`SCHEMA`), ``configs`` (JSON:
  key -> the attack's config), ``suite`` (JSON), ``substrate`` (JSON), ``seed``.

Union analyses and transfer studies then need no re-run. :func:`load_adversarial` reads it back.
The file is written atomically (:func:`hardware_models.files.atomic_output`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from hardware_models.files import atomic_output

SCHEMA = "analogeq.robustness.adversarial/1"


def _bits(strings: list[str]) -> torch.Tensor:
    return torch.tensor([[c == "1" for c in s] for s in strings], dtype=torch.uint8)


def save_adversarial(path: str | Path, result: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> Path:
    """Write the adversarial inputs of ``result`` (from ``keep_adversarial=True``) and the
    batch ``(x, y)`` it was evaluated on to ``path``; returns the path."""
    from safetensors.torch import save_file

    if "adversarial" not in result:
        raise ValueError("result has no adversarial inputs: run evaluate_robustness(..., keep_adversarial=True)")
    tensors = {"x": x.detach().cpu().float().contiguous(), "y": y.detach().cpu().long().contiguous()}
    configs = {}
    for key, item in result["adversarial"].items():
        tensors[f"{key}/x_adv"] = item["x_adv"].detach().cpu().float().contiguous()
        configs[key] = item["config"]
    for key, entry in result["per_example"].items():
        tensors[f"{key}/correct"] = _bits(entry["correct"])
    metadata = {"schema": SCHEMA, "configs": json.dumps(configs, allow_nan=False),
                "suite": json.dumps(result["suite"], allow_nan=False),
                "substrate": json.dumps(result["substrate"], allow_nan=False), "seed": str(result["seed"])}
    target = Path(path)
    with atomic_output(target) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return target


def load_adversarial(path: str | Path) -> dict[str, Any]:
    """``{"x", "y", "runs": {key: {"x_adv"?, "correct", "config"?}}, "suite", "substrate", "seed"}``."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("schema") != SCHEMA:
            raise ValueError(f"{path} is not an adversarial-inputs file (schema {meta.get('schema')!r}, expected {SCHEMA!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    configs = json.loads(meta["configs"])
    runs: dict[str, dict[str, Any]] = {}
    for name, t in tensors.items():
        if "/" in name:
            key, part = name.rsplit("/", 1)
            runs.setdefault(key, {})[part] = t.bool() if part == "correct" else t
    for key, config in configs.items():
        runs.setdefault(key, {})["config"] = config
    return {"x": tensors["x"], "y": tensors["y"], "runs": runs, "suite": json.loads(meta["suite"]),
            "substrate": json.loads(meta["substrate"]), "seed": int(meta["seed"])}
