"""Trained networks shared by all points of a sweep (never retrained per point).

A spec's ``[network]`` is either a checkpoint file (``analogeq.checkpoint`` format)::

    [network]
    checkpoint = "ebm.safetensors"     # relative to the spec
    dataset = "digits"                 # optional: else the checkpoint's metadata, else digits
    data_seed = 0                      # optional: the seed of the train/val/test split

or a training config for the default digits EBM::

    [network.train]
    dataset = "digits"                 # the only dataset a sweep trains on by itself
    data_seed = 0
    [network.train.model]              # analogeq.models config (default kind "dense_ebm")
    hidden_sizes = [64]
    [network.train.training]           # analogeq.train.TrainConfig fields
    epochs = 10

A training config is trained once, by the sweep driver, into the cache folder beside the
database (``<db>.networks/<config-sha256[:24]>.safetensors``, written atomically by
``save_checkpoint``; a lock file makes a second sweep wait instead of training the same config
again). Workers load the checkpoint from there and keep it in memory for the following points.

The point config carries the network's identity: the SHA-256 of the canonical training config,
or of a checkpoint's architecture and weights (:func:`weights_sha256`: moving or re-saving the
file changes nothing; other weights make new points), plus the dataset and split seed whose test
set is evaluated.

The torch-based modules (``analogeq.models``, ``train``, ``checkpoint``, ``data``; 1-3 s to
import) are imported inside the functions that handle a network, so that a physics-only sweep
and its workers never load torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from analogeq.sweeps.canonical import canonical_json, config_hash
from hardware_models.params import ParameterError, check_int

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock
    fcntl = None

logger = logging.getLogger(__name__)

TRAIN_KEYS = ("dataset", "data_seed", "model", "training")
#: datasets a sweep trains on by itself (others: train with ``analogeq train``, give the checkpoint)
TRAINABLE_DATASETS = ("digits",)


def resolve_train_config(train: dict[str, Any]) -> dict[str, Any]:
    """The full, validated training config (defaults filled in) as a JSON dict:
    ``{"dataset", "data_seed", "model": <model config with kind>, "training": <TrainConfig>}``.
    Errors name the key (``dataset: ...``, ``model: ...``, ``training: ...``)."""
    from analogeq.models import config_from_dict
    from analogeq.train import TrainConfig

    unknown = sorted(set(train) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key; allowed: {list(TRAIN_KEYS)}")
    dataset = train.get("dataset", "digits")
    if dataset not in TRAINABLE_DATASETS:
        raise ValueError(
            f"dataset: a sweep trains only on {list(TRAINABLE_DATASETS)}, got {dataset!r}; "
            "train other datasets with `analogeq train` and give [network] checkpoint = ..."
        )
    data_seed = check_int("data_seed", train.get("data_seed", 0), minimum=0)
    model = train.get("model", {})
    training = train.get("training", {})
    if not isinstance(model, dict):
        raise ValueError(f"model: must be a table of model settings, got {model!r}")
    if not isinstance(training, dict):
        raise ValueError(f"training: must be a table of TrainConfig settings, got {training!r}")
    try:
        model_cfg = config_from_dict({"kind": "dense_ebm", **model}).to_dict()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"model: {exc}") from None
    try:
        training_cfg = TrainConfig.from_dict(dict(training)).to_dict()
    except ParameterError as exc:  # "training.epochs: must be ...", the path of the key in the spec
        raise ValueError(f"training.{exc.field}: {exc.detail}") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"training: {exc}") from None
    return {"dataset": dataset, "data_seed": data_seed, "model": model_cfg, "training": training_cfg}


def _checkpoint_path(network: Any, base_dir: str) -> str:
    path = network.checkpoint
    return os.path.abspath(path if os.path.isabs(path) else os.path.join(base_dir, path))


def network_identity(network: Any, base_dir: str) -> dict[str, Any]:
    """What identifies the network in a point config (see the module docstring)."""
    if network.checkpoint is None:
        return {"train_config_sha256": config_hash(network.train), "train": network.train,
                "dataset": network.train["dataset"], "data_seed": network.train["data_seed"]}
    from analogeq.checkpoint import read_checkpoint

    path = _checkpoint_path(network, base_dir)
    config, metadata, tensors = read_checkpoint(path)  # validates the file (format, integrity hash)
    dataset = network.dataset or metadata.get("dataset") or "digits"
    data_seed = network.data_seed
    if data_seed is None:
        data_seed = metadata.get("data_seed", metadata.get("split_seed", 0))
    return {"weights_sha256": weights_sha256(config, tensors), "dataset": str(dataset),
            "data_seed": check_int("network.data_seed", data_seed, minimum=0)}


def weights_sha256(model_config: dict[str, Any], tensors: dict[str, Any]) -> str:
    """SHA-256 of a network's architecture and weights: the canonical model config, then every
    tensor (name, dtype, shape, bytes) in name order. Unlike the file's bytes (safetensors writes
    its header in no fixed order) it is the same for every save of the same network."""
    import torch  # a network is there (see the module docstring)

    h = hashlib.sha256(canonical_json(model_config).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode("utf-8"))
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def _exclusive(lock_path: str):
    """An exclusive advisory lock on ``lock_path`` (POSIX ``flock``; no lock elsewhere)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def cached_network_path(network: Any, cache_dir: str) -> str:
    """Where the trained network of a training config lives in the cache."""
    return os.path.join(cache_dir, f"{config_hash(network.train)[:24]}.safetensors")


def prepare_network(network: Any, base_dir: str, cache_dir: str, *, progress: bool | None = None) -> str:
    """The checkpoint path workers load: the spec's file, or the cached training result
    (trained now, once, if it is not in the cache)."""
    if network.checkpoint is not None:
        return _checkpoint_path(network, base_dir)
    path = os.path.abspath(cached_network_path(network, cache_dir))
    os.makedirs(cache_dir, exist_ok=True)
    with _exclusive(path + ".lock"):
        if os.path.exists(path):
            logger.info("using the cached network %s", path)
            return path
        from analogeq.checkpoint import save_checkpoint
        from analogeq.data import load_dataset
        from analogeq.models import build_model
        from analogeq.train import TrainConfig, train

        cfg = network.train
        logger.info("training the sweep's network once (%s), cached as %s", cfg["model"].get("kind"), path)
        splits = load_dataset(cfg["dataset"], seed=cfg["data_seed"])
        model = build_model(cfg["model"])
        history = train(model, splits, TrainConfig.from_dict(cfg["training"]), progress=progress)
        save_checkpoint(path, model, metadata={
            "dataset": cfg["dataset"], "data_seed": cfg["data_seed"], "train_config": cfg,
            "train_config_sha256": config_hash(cfg), "final_val_accuracy": history["final_val_accuracy"],
            "trained_by": "analogeq sweep",
        })
    return path


@dataclass
class LoadedNetwork:
    """A network loaded on a worker: the model and the data split it was trained with."""

    model: Any
    dataset_name: str = "digits"
    data_seed: int = 0
    _splits: Any = field(default=None, repr=False)

    def dataset(self) -> Any:
        """The train/validation/test splits (loaded once)."""
        if self._splits is None:
            from analogeq.data import load_dataset

            self._splits = load_dataset(self.dataset_name, seed=self.data_seed)
        return self._splits


_LOADED: dict[str, LoadedNetwork] = {}


def load_network_cached(path: str, identity: dict[str, Any]) -> LoadedNetwork:
    """Load the checkpoint at ``path`` once per process (keyed by the network identity).

    For a checkpoint identity the file's SHA-256 must still match: a file changed after the
    sweep was planned is an error, not silently different results."""
    key = config_hash(identity)
    if key not in _LOADED:
        from analogeq.checkpoint import load_checkpoint

        model, _ = load_checkpoint(path)
        if "weights_sha256" in identity:
            actual = weights_sha256(model.config.to_dict(), model.state_dict())
            if actual != identity["weights_sha256"]:
                raise ValueError(f"checkpoint {path!r} changed since the sweep was planned (its weights differ)")
        _LOADED[key] = LoadedNetwork(model, identity["dataset"], int(identity["data_seed"]))
    return _LOADED[key]
