"""Energy-based networks: layered EBMs (dense and convolutional), their synapses and settling.

* :class:`~analogeq.ebm.dense.DenseEBM` / :class:`~analogeq.ebm.dense.DenseEBMConfig`
* :class:`~analogeq.ebm.conv.ConvEBM` / :class:`~analogeq.ebm.conv.ConvEBMConfig`
* synapses :class:`~analogeq.ebm.synapses.DenseSynapse`, :class:`~analogeq.ebm.conv.ConvPoolSynapse`
* :func:`~analogeq.ebm.settle.settle` -> :class:`~analogeq.ebm.settle.SettleResult`
* attack gradients (full, truncated, implicit): :mod:`analogeq.ebm.gradients`
"""

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig, ConvPoolSynapse
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.ebm.layered import LayeredEBM, hard_sigmoid
from analogeq.ebm.settle import SettleResult, settle, validate_budget
from analogeq.ebm.synapses import DenseSynapse

__all__ = [
    "ConvEBM",
    "ConvEBMConfig",
    "ConvPoolSynapse",
    "DenseEBM",
    "DenseEBMConfig",
    "DenseSynapse",
    "LayeredEBM",
    "SettleResult",
    "hard_sigmoid",
    "settle",
    "validate_budget",
]
