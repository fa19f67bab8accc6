"""Training of layered EBMs: Equilibrium Propagation, backpropagation through the settling, the loop.

Building blocks (reusable with hardware synapse reads, ``synapses=``):
:func:`~analogeq.train.eqprop.free_phase`, :func:`~analogeq.train.eqprop.nudged_phase`,
:func:`~analogeq.train.eqprop.eqprop_gradients_from_states`,
:func:`~analogeq.train.eqprop.eqprop_gradients`, :func:`~analogeq.train.bptt.bptt_gradients`;
the loop :func:`~analogeq.train.loop.train` with :class:`~analogeq.train.config.TrainConfig`.
"""

from analogeq.train.bptt import BPTTResult, bptt_gradients
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import (
    NUDGINGS,
    EqPropPhases,
    eqprop_gradients,
    eqprop_gradients_from_states,
    free_phase,
    nudged_phase,
)
from analogeq.train.loop import evaluate, train
from analogeq.train.optim import build_optimizer, build_scheduler

__all__ = [
    "BPTTResult",
    "EqPropPhases",
    "NUDGINGS",
    "TrainConfig",
    "bptt_gradients",
    "build_optimizer",
    "build_scheduler",
    "eqprop_gradients",
    "eqprop_gradients_from_states",
    "evaluate",
    "free_phase",
    "nudged_phase",
    "train",
]
