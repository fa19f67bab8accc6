"""In-situ EqProp on crossbars: the arrays themselves are trained with device pulses.

After the phases on the arrays, every cell gets the local EqProp update

        dW_ij = lr / (2 beta) * mean_b( s+_i s+_j - s-_i s-_j )     (post i, pre j)

    as device pulses through the card's ``update`` model (asymmetric, soft-bounded, finite
    steps, cycle-to-cycle noise). A synapse needs only the states of the two neurons it joins
    in the two nudged phases and the global scalar beta: no weight transport, no stored
    activations, no backward pass. That is what a crossbar can do at every cross point with
    row and column pulses, and it is exactly EqProp's gradient estimate.

Pulse mapping (in situ): the weight change is split over the differential pair, half on each
side ("both sides": dW > 0 raises G+ and lowers G-), in conductance units
dG = dW (g_max_S - g_min_S) / w_max; a side needing dG_s gets round_stochastic(|dG_s| / dg_min)
pulses, dg_mid the mean step of one pulse in the middle of the range (calibrated once: half of
dg_min_up_S / dg_min_down_S for the soft-bounded model; the real step is larger below and
smaller above the middle, as on a device), with unbiased stochastic rounding (Gokmen & Vlasov
2016 use stochastic pulse trains for the same reason). Biases live in the digital periphery and
are updated in float with the same local rule (db_i = lr / (2 beta) mean_b(s+_i - s-_i)).
Cells start around the middle of the range (G+- = g_mid +- span W / (2 w_max)) so both signs of
update have room, and are programmed once through the card (programming noise, faults).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from analogeq.contract import check_dense_settling, check_labels
from analogeq.ebm.config_dict import JSONConfig
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.substrates.crossbar.common import check_crossbar_card
from analogeq.substrates.crossbar.programmed import ProgrammedMatrices
from analogeq.train.config import LOOP_CONSTRAINTS, POSITIVE, check_learning_rates, lr_per_group
from analogeq.train.hardware_aware import evaluate_substrate
from hardware_models.crossbar import CrossbarArray
from hardware_models.devices import ProgrammedConductances, program_conductances
from hardware_models.params import Real, validate_params

logger = logging.getLogger(__name__)

__all__ = ["InSituConfig", "local_eqprop_updates", "pulses_for", "stochastic_round", "train_in_situ"]

_IN_SITU_CONSTRAINTS = {
    **LOOP_CONSTRAINTS,
    "beta": POSITIVE,
    "w_max_factor": Real(minimum=1.0),
    "read_time_s": Real(minimum=0.0),
}


@dataclass(frozen=True)
class InSituConfig(JSONConfig):
    """In-situ EqProp settings (JSON round trip through ``to_dict``).

    epochs, batch_size, beta, lr (one per weight matrix, or one for all; cosine-annealed to 0
    per batch when ``schedule="cosine"``), seed (initial weights come from the model; programming,
    read noise, pulses, shuffling from ``seed``), w_max_factor (w_max of each matrix =
    factor * max |W_init|: the weight at the full span of one side), read_time_s (time after the
    last update at which the training phases read the arrays, >= 0).

    The defaults suit the digits recipe (:func:`analogeq.train.recipes.digits_dense`: batch 64,
    lr 0.2 / 0.1, Glorot gain 0.5, whose weights grow to about 2-3x their initial range):
    measured on ``rram`` without wires, 12 epochs reach ~0.96-0.97 test accuracy.
    """

    epochs: int = 12
    batch_size: int = 64
    beta: float = 0.5
    lr: float | tuple[float, ...] = (0.2, 0.1)
    schedule: str = "cosine"
    w_max_factor: float = 4.0
    read_time_s: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # the normalised values are stored (ints become floats where a float is asked for)
        values = validate_params({k: getattr(self, k) for k in _IN_SITU_CONSTRAINTS}, _IN_SITU_CONSTRAINTS,
                                 owner="InSituConfig")
        for key, value in values.items():
            object.__setattr__(self, key, value)
        rates = check_learning_rates(self.lr, "InSituConfig")
        object.__setattr__(self, "lr", rates if isinstance(self.lr, (list, tuple)) else rates[0])

    def lr_per_matrix(self, n: int) -> list[float]:
        """One learning rate per weight matrix (a single lr is broadcast)."""
        return lr_per_group(self.lr, n, "InSituConfig", "weight matrices")


def local_eqprop_updates(x: torch.Tensor, s_plus: list[torch.Tensor], s_minus: list[torch.Tensor], beta: float,
                         lrs: list[float]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The local EqProp weight and bias changes of a dense mse EBM (module docstring):
    dW_k = lr_k / (2 beta) mean_b(post+ pre+^T - post- pre-^T), db_k = lr_k / (2 beta) mean_b(s+_k - s-_k),
    pre of layer 1 = the input. Float64 numpy, W layout (n_out, n_in)."""
    batch = x.shape[0]
    pre_p = [x.reshape(batch, -1)] + [s.reshape(batch, -1) for s in s_plus[:-1]]
    pre_m = [x.reshape(batch, -1)] + [s.reshape(batch, -1) for s in s_minus[:-1]]
    d_w, d_b = [], []
    for k, lr in enumerate(lrs):
        post_p = s_plus[k].reshape(batch, -1).double()
        post_m = s_minus[k].reshape(batch, -1).double()
        scale = lr / (2.0 * beta * batch)
        d_w.append((scale * (post_p.T @ pre_p[k].double() - post_m.T @ pre_m[k].double())).cpu().numpy())
        d_b.append((scale * (post_p - post_m).sum(dim=0)).cpu().numpy())
    return d_w, d_b


def stochastic_round(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """floor(v + u), u ~ U[0, 1): an integer with mean v (unbiased rounding)."""
    return np.floor(v + rng.random(np.shape(v))).astype(np.int64)


def pulses_for(d_g: np.ndarray, step_up_S: float, step_down_S: float, rng: np.random.Generator) -> np.ndarray:
    """Signed pulse counts for conductance changes ``d_g`` [S]: up pulses of nominal size
    ``step_up_S`` where d_g > 0, down pulses of ``step_down_S`` where d_g < 0, counts rounded
    stochastically (unbiased)."""
    up = stochastic_round(np.maximum(d_g, 0.0) / step_up_S, rng)
    down = stochastic_round(np.maximum(-d_g, 0.0) / step_down_S, rng)
    return up - down


class _Cells:
    """The two conductance arrays (G+, G-) of one matrix, as the device holds them."""

    def __init__(self, programmed: Any):
        self.state = programmed  # ProgrammedConductances of shape (2, n_out, n_in)
        self.g = np.array(programmed.g_prog_S, dtype=np.float64)

    def programmed(self) -> Any:
        st = self.state
        return ProgrammedConductances(g_prog_S=self.g.copy(), nu=st.nu, stuck=st.stuck, t0_s=st.t0_s,
                                      device=st.device, relax_S=st.relax_S)


def train_in_situ(model: Any, splits: Any, card: Any, config: InSituConfig = InSituConfig(),
                  *, on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Train a dense mse EBM in situ on ``card`` (module docstring, (c)).

    ``model`` gives the structure, the initial weights and biases (it is not modified; a copy
    holds the biases). The card must have an ``update`` section (e.g. preset ``"rram"``).
    Returns ``(substrate, history)``: a :class:`~analogeq.substrates.crossbar.CrossbarSubstrate`
    reading the trained arrays (at ``read_time_s`` after programming) and the history (per
    epoch: ``train_accuracy`` of the free phases, ``val_accuracy`` on the arrays, pulses
    applied, fraction of cells at a bound; ``train_seconds``).
    """
    if not isinstance(config, InSituConfig):
        raise TypeError(f"config must be an InSituConfig, got {type(config).__name__}")
    check_dense_settling(model, "in-situ training")
    if model.readout is not None:
        raise ValueError("in-situ training supports readout='mse' EBMs (the output layer inside the energy); "
                         "got readout='ce'")
    card = check_crossbar_card(card)
    update = card.update
    if update is None:
        raise ValueError(f"card {card.name!r} has no update section (update: null); in-situ training needs the "
                         "pulsed update model (dg_min_up_S, dg_min_down_S, cycle_noise_rel), e.g. preset 'rram'")
    if not card.wires.ideal:
        logger.warning("card %r has wire resistance: the exact IR-drop solve runs again after every batch of "
                       "pulses (seconds per batch for a 64x256 array); consider a card without wires", card.name)
    shadow = copy.deepcopy(model).float().eval()
    for p in shadow.parameters():
        p.requires_grad_(False)
    g_min, g_max = float(card.device.g_min_S), float(card.device.g_max_S)
    span = g_max - g_min
    g_mid = 0.5 * (g_min + g_max)
    step_up = float(update.mean_step(np.array(g_mid), True, g_min, g_max))
    step_down = float(-update.mean_step(np.array(g_mid), False, g_min, g_max))
    seq = np.random.SeedSequence(config.seed)
    prog_seq, pulse_seq, read_seq = seq.spawn(3)
    pulse_rng = np.random.default_rng(pulse_seq)
    read_rng = np.random.default_rng(read_seq)

    def next_seed() -> int:
        return int(read_rng.integers(0, 2**31))

    names = [f"layer{k + 1}" for k in range(len(shadow.synapses))]
    lrs = config.lr_per_matrix(len(names))
    w_max, cells = [], []
    for syn, child in zip(shadow.synapses, prog_seq.spawn(len(names))):
        w = syn.weight.detach().double().cpu().numpy()
        wm = config.w_max_factor * float(np.max(np.abs(w)) or 1.0)
        targets = np.stack([g_mid + span * w / (2 * wm), g_mid - span * w / (2 * wm)])
        cells.append(_Cells(program_conductances(card, np.clip(targets, g_min, g_max), np.random.default_rng(child))))
        w_max.append(wm)

    def arrays_now() -> ProgrammedMatrices:
        arrays = []
        for c, wm in zip(cells, w_max):
            prog = c.programmed()
            w_now = np.clip(wm * (prog.g_prog_S[0] - prog.g_prog_S[1]) / span, -wm, wm)
            arrays.append(CrossbarArray.from_card(w_now, card, seed=0, w_max=wm, program=lambda g, rng, p=prog: p))
        return ProgrammedMatrices.from_arrays(names, arrays, card)

    def substrate_now(t_s: float, seed: int) -> Any:
        return CrossbarSubstrate(shadow, card, drift_time_s=t_s, seed=seed, programmed=arrays_now())

    t_read = cells[0].state.t0_s + config.read_time_s
    train_set = splits.train
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total = config.epochs * steps_per_epoch
    shuffle = torch.Generator().manual_seed(config.seed)
    history: dict[str, Any] = {"config": config.to_dict(), "card": card.name, "w_max": w_max,
                               "pulse_step_S": [step_up, step_down], "epochs": []}
    t_start = time.perf_counter()
    step = 0
    for epoch in range(1, config.epochs + 1):
        t_epoch = time.perf_counter()
        correct, pulses = 0, 0
        for x, y in train_set.batches(config.batch_size, shuffle=True, generator=shuffle):
            check_labels(y, shadow.num_classes, x.shape[0])
            factor = 0.5 * (1.0 + math.cos(math.pi * step / total)) if config.schedule == "cosine" else 1.0
            sub = substrate_now(t_read, next_seed())
            free = sub.settle(x, record=False)
            plus = sub.settle(x, beta=config.beta, y=y, states=free.states, record=False)
            minus = sub.settle(x, beta=-config.beta, y=y, states=free.states, record=False)
            correct += int((free.logits.argmax(dim=-1) == y).sum())
            d_w, d_b = local_eqprop_updates(x, plus.states, minus.states, config.beta, [lr * factor for lr in lrs])
            for c, dw, wm in zip(cells, d_w, w_max):
                d_g = dw * span / wm / 2.0  # half of the change on each side of the pair
                n = np.stack([pulses_for(d_g, step_up, step_down, pulse_rng),
                              pulses_for(-d_g, step_up, step_down, pulse_rng)])
                pulses += int(np.abs(n).sum())
                c.g = update.apply_pulses(c.g, n, pulse_rng, g_min_S=g_min, g_max_S=g_max, stuck=c.state.stuck)
            with torch.no_grad():
                for b, db in zip(shadow.biases, d_b):
                    b.add_(torch.as_tensor(db, dtype=b.dtype))
            step += 1
        val_sub = substrate_now(t_read, next_seed())
        at_bound = float(np.mean([np.mean((c.g <= g_min + 1e-3 * span) | (c.g >= g_max - 1e-3 * span)) for c in cells]))
        record = {
            "epoch": epoch,
            "train_accuracy": correct / len(train_set),
            "val_accuracy": evaluate_substrate(val_sub, splits.val),
            "pulses": pulses,
            "fraction_at_bound": at_bound,
            "seconds": time.perf_counter() - t_epoch,
        }
        history["epochs"].append(record)
        logger.info("in-situ epoch %d/%d: train acc %.4f, val acc %.4f, %d pulses, %.1f s", epoch, config.epochs,
                    record["train_accuracy"], record["val_accuracy"], pulses, record["seconds"])
        if on_epoch_end is not None:
            on_epoch_end(record)
    history["train_seconds"] = time.perf_counter() - t_start
    history["final_val_accuracy"] = history["epochs"][-1]["val_accuracy"]
    return substrate_now(t_read, config.seed), history
