"""The convolutional part of ``bench_spiking.py`` (issue 16): avg-pool conv EBMs as spikes.

* ``mnist5k_conv_ebm_spiking_agreement``: an avg-pool conv EBM (``MNIST5K_AVG_CONV``: 8-16
  channels, 5x5 kernels, padding 2, 2x2 average pools, ce readout off-chip: the
  mnist5k_conv_avg recipe's shape at half the channels) trained with
  float symmetric EqProp on mnist-5k (3 epochs; quick: 1 epoch on 1,000 images); fraction of
  test images (full: 500; quick: 100) whose spiking class (card ``spiking-ideal``, cython
  target) is the float substrate's (target >= 0.97). Events per sample, ns per event (CPU time
  of the logits call / its synaptic events), synapses per copy and copies per network with it.
* ``spiking_conv_eqprop_accuracy``: mnist-5k test accuracy (spiking read-out; 500 test images,
  quick: 100) of the same conv EBM trained from scratch with spiking EqProp (all three phases as
  spikes, the ce readout's error current from the free rates; training card: spiking-ideal with
  30 ms free, 20 ms nudged phases, 10 ms window; 1 epoch on 1,000 images, quick: 320; the
  mnist5k_conv recipe's optimiser).
"""

from __future__ import annotations

import time

import torch

from analogeq.data import load_dataset
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates import build_substrate
from analogeq.substrates.spiking import SpikingSubstrate
from analogeq.train.config import TrainConfig
from analogeq.train.loop import train
from analogeq.train.recipes import MNIST5K_CONV_AVG_MODEL, MNIST5K_CONV_TRAIN
from analogeq.train.spiking_eqprop import train_spiking_eqprop

#: the mnist5k_conv_avg recipe's shape at half the channels (its spiking run: ~4x fewer events)
MNIST5K_AVG_CONV = {k: v for k, v in MNIST5K_CONV_AVG_MODEL.items() if k != "kind"}
MNIST5K_AVG_CONV.update(channels=[8, 16])



def test_images(splits, n: int, seed: int):
    """``n`` test images drawn without replacement with a seeded permutation (the mnist-5k test
    split is sorted by class: its first 100 images are all zeros)."""
    idx = torch.randperm(len(splits.test), generator=torch.Generator().manual_seed(seed))[:n]
    return splits.test.x[idx], splits.test.y[idx]


def cpu_seconds() -> float:
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def mnist5k_agreement(quick: bool, seed: int, target: str, cache_dir) -> dict:
    splits = load_dataset("mnist-5k", seed=seed)
    data = splits.subset(n_train=1000, n_val=100, seed=seed) if quick else splits
    model = ConvEBM(ConvEBMConfig(**dict(MNIST5K_AVG_CONV, seed=seed)))
    cfg = TrainConfig.from_dict(dict(MNIST5K_CONV_TRAIN, epochs=1 if quick else 3, seed=seed))
    cpu0 = time.process_time()
    train(model, data, cfg, progress=False)
    train_cpu = time.process_time() - cpu0
    model.eval()
    n_test = 100 if quick else 500
    x, y = test_images(splits, n_test, seed)
    float_pred = build_substrate("float", model).predict(x)
    sub = SpikingSubstrate.from_model(model, "spiking-ideal", seed=0, target=target, cache_dir=cache_dir)
    sub.logits(x[:2])  # warm-up: build the network, compile or load the code
    sub._stats = {"inferences": 0, "spikes": 0.0, "synaptic_events": 0.0}
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    pred = sub.predict(x)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    cost = sub.cost()
    events = cost["synaptic_events_per_inference"]
    return {
        "mnist5k_conv_ebm_spiking_agreement": float((pred == float_pred).float().mean()),
        "spiking_accuracy": float((pred == y).float().mean()),
        "float_accuracy": float((float_pred == y).float().mean()),
        "n_test": n_test,
        "test_classes": sorted(set(y.tolist())),
        "model": MNIST5K_AVG_CONV,
        "layer_sizes": sub.mapped.layer_sizes,
        "train": {"epochs": cfg.epochs, "images": len(data.train), "cpu_s": train_cpu},
        "target": sub.backend.target,
        "run_mode": sub.run_mode(),
        "synapses_per_copy": sub.mapped.n_synapses,
        "copies_per_network": sub.copies,
        "spikes_per_sample": cost["spikes_per_inference"],
        "events_per_sample": events,
        "ms_per_sample_wall": 1e3 * wall / n_test,
        "ms_per_sample_cpu": 1e3 * cpu / n_test,
        "ns_per_event_cpu": 1e9 * cpu / (n_test * events) if events else None,
        "energy_per_inference_J": cost["energy_per_inference_J"],
        "free_steps": sub.card.timing.free_steps,
    }


def conv_eqprop(quick: bool, seed: int, target: str, cache_dir, card) -> dict:
    splits = load_dataset("mnist-5k", seed=seed)
    data = splits.subset(n_train=320 if quick else 1000, n_val=100, seed=seed)
    model = ConvEBM(ConvEBMConfig(**dict(MNIST5K_AVG_CONV, seed=seed)))
    cfg = TrainConfig.from_dict(dict(MNIST5K_CONV_TRAIN, epochs=1, seed=seed))
    history = train_spiking_eqprop(model, data, cfg, card, seed=seed, target=target, cache_dir=cache_dir, progress=False)
    model.eval()
    sub = SpikingSubstrate.from_model(model, "spiking-ideal", seed=seed, target=target, cache_dir=cache_dir)
    n_test = 100 if quick else 500
    x, y = test_images(splits, n_test, seed)
    return {
        "spiking_conv_eqprop_accuracy": float((sub.predict(x) == y).float().mean()),
        "float_accuracy_of_spiking_trained_conv": float((build_substrate("float", model).predict(x) == y).float().mean()),
        "dataset": "mnist-5k",
        "n_test": n_test,
        "model": MNIST5K_AVG_CONV,
        "layer_sizes": sub.mapped.layer_sizes,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "train_images": len(data.train),
        "train_card_timing": card.timing.to_dict(),
        "train_seconds": history["train_seconds"],
        "train_accuracy_per_epoch": [e["train_accuracy"] for e in history["epochs"]],
        "spikes_per_sample_training": [e["spikes_per_sample"] for e in history["epochs"]],
    }


def conv_part(quick: bool, seed: int, target: str, cache_dir, card, log=print) -> dict:
    """Both conv keys and their details (see module docstring)."""
    torch.manual_seed(seed)
    ag = mnist5k_agreement(quick, seed, target, cache_dir)
    log(f"mnist-5k conv agreement: {ag}")
    eq = conv_eqprop(quick, seed, target, cache_dir, card)
    log(f"conv spiking eqprop: {eq}")
    return {
        "mnist5k_conv_ebm_spiking_agreement": ag["mnist5k_conv_ebm_spiking_agreement"],
        "spiking_conv_eqprop_accuracy": eq["spiking_conv_eqprop_accuracy"],
        "spiking_conv_events_per_sample": ag["events_per_sample"],
        "spiking_conv_ns_per_event": ag["ns_per_event_cpu"],
        "mnist5k_conv_spiking": ag,
        "spiking_conv_eqprop": eq,
    }
