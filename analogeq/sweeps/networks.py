"""Trained networks shared by all points of a sweep (never retrained per point).

A ``[network]`` section is either a checkpoint file or a training config for the default digits
EBM. A training config is trained once, by the sweep driver, into a cache folder beside the
database (``<db>.networks/<config-hash>.<ext>``, written atomically, so two sweeps racing to train
the same config both end with one complete file); workers load the checkpoint from there and keep
it in memory for the following points.

The point config carries the network's identity: the SHA-256 of the canonical training config,
or the SHA-256 of the checkpoint file's bytes (moving the file changes nothing, changing its
contents makes new points).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from analogeq.sweeps.canonical import config_hash, file_sha256

logger = logging.getLogger(__name__)


def _train_api():
    """The core's training and checkpoint API (imported lazily: torch)."""
    raise ValueError("training a network from a sweep spec is not available yet: use [network] checkpoint = ...")


def resolve_train_config(train: dict[str, Any]) -> dict[str, Any]:
    """The full, validated training config (defaults filled in) as a JSON dict."""
    _train_api()
    return dict(train)


def network_identity(network: Any, base_dir: str) -> dict[str, Any]:
    """What identifies the network in a point config (see module docstring)."""
    if network.checkpoint is not None:
        path = network.checkpoint if os.path.isabs(network.checkpoint) else os.path.join(base_dir, network.checkpoint)
        return {"checkpoint_sha256": file_sha256(path)}
    return {"train_config_sha256": config_hash(network.train), "train": network.train}


def prepare_network(network: Any, base_dir: str, cache_dir: str) -> str:
    """The checkpoint path workers load: the spec's file, or the cached training result
    (trained now if missing)."""
    if network.checkpoint is not None:
        path = network.checkpoint if os.path.isabs(network.checkpoint) else os.path.join(base_dir, network.checkpoint)
        return os.path.abspath(path)
    _train_api()
    raise AssertionError("unreachable")


@dataclass
class LoadedNetwork:
    """A network loaded on a worker: the model and the data it was trained on."""

    model: Any
    dataset_name: str = "digits"
    data_seed: int = 0
    _splits: Any = field(default=None, repr=False)

    def dataset(self) -> Any:
        if self._splits is None:
            from analogeq.data import load_dataset

            self._splits = load_dataset(self.dataset_name, seed=self.data_seed)
        return self._splits


_LOADED: dict[str, LoadedNetwork] = {}


def load_network_cached(path: str, identity: dict[str, Any]) -> LoadedNetwork:
    """Load the checkpoint at ``path`` once per process (keyed by the network identity)."""
    key = config_hash(identity)
    if key not in _LOADED:
        raise ValueError("loading checkpoints is not available yet")
    return _LOADED[key]
