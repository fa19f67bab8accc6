"""B stacked copies of a mapped dense EBM in ONE Brian2 network.

Every copy is the same chip (same weights, same mismatch draw) fed another input: neuron
``b * n + i`` is neuron ``i`` of copy ``b`` (state layers in order), and one ``Synapses`` object
holds the block-diagonal connectivity of all copies in both directions (W forward, W^T
feedback). A phase (free or nudged) is ONE ``Network.run`` over all copies; nothing in Python
runs per step or per sample.

Neuron model (units: nominal threshold 1, currents as charge per clock step; see
:mod:`hardware_models.spiking.card`), per clock step, in Brian2's schedule order:

    groups     v <- clip(v * keep + I_syn + I_const [+ sigma * randn()], 0, 2 theta);  I_syn <- d * I_syn
               (the clip is written branch-free, see ``__init__``)
    thresholds spike if v >= theta (and not refractory)
    synapses   for every spike of a pre neuron: I_syn_post += w (1 - d)
    resets     v <- v - theta;  I_syn <- I_syn + w_self;  count += [t in decoding window];  total += 1

``keep`` = 1 - dt/tau_mem per neuron, d = exp(-dt/tau_syn). A spike of weight w therefore
delivers the charge w (1 - d)(1 + d + d^2 + ...) = w in total, spread over ~tau_syn: the mean
current into a neuron is b + sum_j w_ij r_j with r_j the presynaptic rates (spikes per step).
``I_const`` holds the bias, the clamped input W_1 x (layer 1) and the nudging target beta y
(output layer, mse); ``w_self`` = -beta (1 - d) on the output neurons makes each output spike
feed back -beta times itself: the nudging current beta (y - s_N) of EqProp.

Decoding: the rate of a neuron is its spike count over the last ``window`` steps of the phase
divided by ``window`` (``count`` only counts spikes with t >= the start of the window).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from analogeq.substrates.spiking.backend import STANDALONE_TARGETS, BrianBackend

logger = logging.getLogger(__name__)

#: membrane rails in thresholds: v in [0, RAIL_HIGH * theta]
RAIL_HIGH = 2.0
#: current of the padding copies (unused slots of a batch): keeps them silent
PAD_CURRENT = -1.0

#: per-neuron state kept in float32 (half the memory traffic per step; rounding ~1e-7 of a threshold)
_FLOAT32_VARIABLES = ("v", "I_syn", "I_const", "w_self", "theta", "keep")

_EQUATIONS = """
v : 1
I_syn : 1
I_const : 1
w_self : 1
theta : 1 (constant)
keep : 1 (constant)
count : 1
total : 1
decay : 1 (shared, constant)
sigma : 1 (shared, constant)
t_count_start : second (shared)
"""


@contextlib.contextmanager
def _cheap_gc():
    """``Network.run`` starts with ``gc.collect()`` (to warn about objects outside networks); in a
    process holding torch and a large network it costs ~0.1-1 s per run. ``gc.freeze()`` moves the
    objects alive now into the permanent generation, which that collection skips, and
    ``gc.unfreeze()`` gives them back to the collector afterwards: nothing is lost or leaked."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _preserve_numpy_random():
    """Brian2 seeds numpy's global generator: give the caller's state back afterwards."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass
class PhaseCounts:
    """Spike counts of one phase for every neuron of every copy, shape (B, n_neurons):
    ``window`` (spikes in the decoding window) and ``total`` (all spikes of the phase)."""

    window: np.ndarray
    total: np.ndarray
    steps: int
    window_steps: int


def copy_synapses(mapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapse lists (pre, post, weight) of ONE copy: for every matrix W_k between state layers
    k-1 and k (k >= 2), each stored entry W_k[j, i] (all of a dense matrix, the pattern of a
    sparse one) from i (layer k-1) to j (layer k), then the same value from j back to i."""
    offsets = mapped.layer_offsets
    pre_list, post_list, w_list = [], [], []
    for k in range(1, len(mapped.weights)):
        w = mapped.weights[k]  # (n_post, n_pre)
        if scipy.sparse.issparse(w):
            csr = scipy.sparse.csr_matrix(w)
            post_idx = np.repeat(np.arange(w.shape[0]), np.diff(csr.indptr))
            pre_idx, values = csr.indices, csr.data
        else:
            post_idx = np.repeat(np.arange(w.shape[0]), w.shape[1])
            pre_idx, values = np.tile(np.arange(w.shape[1]), w.shape[0]), w.ravel()
        pre_g = offsets[k - 1] + pre_idx.astype(np.int64)
        post_g = offsets[k] + post_idx.astype(np.int64)
        pre_list += [pre_g, post_g]  # forward, then feedback
        post_list += [post_g, pre_g]
        w_list += [values, values]
    if not pre_list:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(pre_list), np.concatenate(post_list), np.concatenate(w_list)


def block_diagonal(mapped, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapse lists (pre, post, weight) of ``batch`` copies (:func:`copy_synapses`): copy b's
    lists are copy 0's shifted by b * n_neurons."""
    pre1, post1, w1 = copy_synapses(mapped)
    shift = (np.arange(batch, dtype=np.int64) * mapped.n_neurons)[:, None]
    pre = (shift + pre1[None, :]).ravel()
    post = (shift + post1[None, :]).ravel()
    return pre, post, np.tile(w1, batch)


def stacked_weights(mapped, batch: int, decay: float) -> np.ndarray:
    """The synaptic weights of ``batch`` copies as the network holds them: w (1 - d), float32."""
    return np.tile((copy_synapses(mapped)[2] * (1.0 - decay)).astype(np.float32), batch)


def same_structure(a, b) -> bool:
    """True if two mapped networks have the same layers and the same synapse pattern."""
    if [w.shape for w in a.weights] != [w.shape for w in b.weights]:
        return False
    for wa, wb in zip(a.weights, b.weights):
        if scipy.sparse.issparse(wa) != scipy.sparse.issparse(wb):
            return False
        if scipy.sparse.issparse(wa) and not (np.array_equal(wa.indptr, wb.indptr) and np.array_equal(wa.indices, wb.indices)):
            return False
    return True


def input_currents(mapped, x_flat: np.ndarray, capacity: int) -> np.ndarray:
    """Constant currents of every neuron (capacity, n): W_1 x + b_1 for layer 1 (W_1 dense or
    sparse), b_k elsewhere; padding copies (beyond the batch) get a negative current that keeps
    them silent."""
    b = x_flat.shape[0]
    cur = np.full((capacity, mapped.n_neurons), PAD_CURRENT)
    cur[:b] = np.tile(mapped.concat("biases"), (b, 1))
    w1 = mapped.weights[0]
    cur[:b, : w1.shape[0]] += np.asarray((w1 @ x_flat.T).T)
    return cur


def layer_rates(mapped, window: np.ndarray, window_steps: int) -> list[np.ndarray]:
    """Split per-neuron window counts (B, n) into per-layer rates [spikes per step]."""
    rates = window / float(window_steps)
    offs = mapped.layer_offsets + [mapped.n_neurons]
    return [rates[:, offs[k] : offs[k + 1]] for k in range(len(mapped.weights))]


def brian_objects(b2, mapped, card, batch: int, codeobj=None, suffix: str = ""):
    """The clock, neuron group and synapses (None for a one-layer network) of ``batch`` copies,
    connected but with no parameter values set; ``codeobj`` is the runtime CodeObject class
    (None on a standalone device), ``suffix`` ends every object's name (a standalone project's
    key: its generated code then depends on nothing else alive in the process). Shared by the
    runtime and the standalone networks, so both run the same generated code in the same order."""
    dt_s = card.timing.dt_s
    clock = b2.Clock(dt=dt_s * b2.second, name="aeq_clock" + suffix)
    # the rails clip(v, 0, 2 theta), written branch-free: exact (each term is v, 0 or 2 theta) and
    # vectorisable; Brian2's clip() made this loop several times slower in the cython target
    update = "v = v * keep + I_syn + I_const" + (" + sigma * randn()" if card.noise.membrane_std > 0.0 else "") + "\n"
    update += "v = v * int(v > 0) * int(v <= 2 * theta) + 2 * theta * int(v > 2 * theta)\n"
    update += "I_syn = I_syn * decay"
    reset = "v -= theta\nI_syn += w_self\ncount += int(t >= t_count_start)\ntotal += 1"
    extra = {}
    if card.refractory_steps > 0:
        # Brian2 allows a new spike once timestep(t - lastspike) >= timestep(refractory):
        # (k + 1) steps gives k blocked steps after each spike (max rate 1 / (k + 1)).
        extra["refractory"] = (card.refractory_steps + 1) * dt_s * b2.second
    # fixed names: the generated code (and so Brian2's compiled-code cache) depends on them
    group = b2.NeuronGroup(
        batch * mapped.n_neurons,
        _EQUATIONS,
        threshold="v >= theta",
        reset=reset,
        clock=clock,
        codeobj_class=codeobj,
        name="aeq_neurons" + suffix,
        dtype={name: np.float32 for name in _FLOAT32_VARIABLES},
        **extra,
    )
    group.run_regularly(update, when="groups", codeobj_class=codeobj, name="aeq_neurons_update" + suffix)
    pre, post, _ = block_diagonal(mapped, batch)
    synapses = None
    if pre.size:  # a one-layer network has no synapses between neurons
        synapses = b2.Synapses(group, group, "w : 1 (constant)", on_pre="I_syn_post += w", clock=clock,
                               codeobj_class=codeobj, name="aeq_synapses" + suffix, dtype={"w": np.float32})
        synapses.connect(i=pre, j=post)
    return clock, group, synapses


def build_stacked_network(mapped, card, batch: int, backend: BrianBackend):
    """The stacked network of ``batch`` copies on ``backend``: the compiled standalone project
    (:class:`analogeq.substrates.spiking.standalone.StandaloneSpikingNetwork`) for
    ``cpp_standalone``, else the runtime :class:`StackedSpikingNetwork` (cython or numpy)."""
    if backend.target in STANDALONE_TARGETS:
        from analogeq.substrates.spiking.standalone import StandaloneSpikingNetwork

        return StandaloneSpikingNetwork(mapped, card, batch, backend)
    return StackedSpikingNetwork(mapped, card, batch, backend)


class StackedSpikingNetwork:
    """``batch`` copies of ``mapped`` (a MappedSpikingNetwork) on ``card`` in one Brian2 network.

    Build once; then :meth:`reset`, :meth:`set_currents` and :meth:`run_phase` as often as
    needed (no rebuild between inputs). :meth:`snapshot` / :meth:`load_snapshot` carry the
    free-phase state into the nudged phases.
    """

    def __init__(self, mapped, card, batch: int, backend: BrianBackend):
        import brian2 as b2

        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
        self.mapped = mapped
        self.card = card
        self.batch = batch
        self.backend = backend
        backend.activate()
        codeobj = backend.codeobj_class()
        n = mapped.n_neurons
        self.n = n
        self.n_total = batch * n
        self.dt_s = card.timing.dt_s
        self._b2 = b2
        self.noisy = card.noise.membrane_std > 0.0
        self.refractory_steps = card.refractory_steps
        self.decay = card.syn_decay
        self.clock, self.group, self.synapses = brian_objects(b2, mapped, card, batch, codeobj)
        self.group.decay = self.decay
        self.group.sigma = card.noise.membrane_std
        self.group.theta = np.tile(mapped.concat("theta"), batch)
        self.group.keep = np.tile(1.0 - mapped.concat("leak"), batch)
        objects = [self.group]
        if self.synapses is not None:
            self.synapses.w = stacked_weights(mapped, batch, self.decay)
            objects.append(self.synapses)
        self.network = b2.Network(*objects, name="aeq_network")
        self.reset()

    def update_weights(self, mapped) -> None:
        """Load new weights of the same architecture (and the same per-neuron parameters) into
        the existing synapses: no rebuild, e.g. after a training step."""
        if not same_structure(mapped, self.mapped):
            raise ValueError("update_weights needs a mapped network of the same layer sizes and synapse pattern")
        self.mapped = mapped
        if self.synapses is not None:
            self.synapses.w = stacked_weights(mapped, self.batch, self.decay)
        self.group.theta = np.tile(mapped.concat("theta"), self.batch)
        self.group.keep = np.tile(1.0 - mapped.concat("leak"), self.batch)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Every neuron at rest: v = 0, no synaptic current, not refractory."""
        g = self.group
        g.v = 0.0
        g.I_syn = 0.0
        g.count = 0.0
        g.total = 0.0
        if self.refractory_steps > 0:
            g.lastspike = -1e9 * self._b2.second
            g.not_refractory = True

    def snapshot(self) -> dict[str, np.ndarray]:
        """The dynamic state (to start both nudged phases from the same free-phase state)."""
        g = self.group
        snap = {"v": np.array(g.v[:]), "I_syn": np.array(g.I_syn[:]), "t": float(self.network.t_)}
        if self.refractory_steps > 0:
            snap["lastspike"] = np.array(g.lastspike_[:])
            snap["not_refractory"] = np.array(g.not_refractory[:])
        return snap

    def load_snapshot(self, snap: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`snapshot` (spike times are shifted to the current time)."""
        g = self.group
        g.v = snap["v"]
        g.I_syn = snap["I_syn"]
        if self.refractory_steps > 0:
            shift = float(self.network.t_) - snap["t"]
            g.lastspike = (snap["lastspike"] + shift) * self._b2.second
            g.not_refractory = snap["not_refractory"]

    def set_currents(self, i_const: np.ndarray, w_self: np.ndarray | None = None) -> None:
        """Constant currents ``i_const`` and self-feedback weights ``w_self`` (charge per spike,
        before the synaptic filter), both of shape (batch, n) or (batch * n,)."""
        self.group.I_const = np.asarray(i_const, dtype=np.float64).reshape(self.n_total)
        if w_self is None:
            self.group.w_self = 0.0
        else:
            self.group.w_self = np.asarray(w_self, dtype=np.float64).reshape(self.n_total) * (1.0 - self.decay)

    # ------------------------------------------------------------------ running
    def run_phase(self, steps: int, window_steps: int, seed: int) -> PhaseCounts:
        """Run ``steps`` clock steps in one ``Network.run`` and return the spike counts
        (``window``: the last ``window_steps`` steps; ``total``: all steps). ``seed`` seeds
        Brian2's generator (membrane noise) for this run; numpy's global state is preserved."""
        b2 = self._b2
        if not (1 <= window_steps <= steps):
            raise ValueError(f"window_steps must be in [1, steps={steps}], got {window_steps}")
        g = self.group
        g.count = 0.0
        g.total = 0.0
        t0 = float(self.network.t_)
        g.t_count_start = (t0 + (steps - window_steps - 0.5) * self.dt_s) * b2.second
        with _preserve_numpy_random(), _cheap_gc():
            b2.seed(int(seed) % (2**32))
            self.network.run(steps * self.dt_s * b2.second, namespace={})
        window = np.array(g.count[:]).reshape(self.batch, self.n)
        total = np.array(g.total[:]).reshape(self.batch, self.n)
        return PhaseCounts(window=window, total=total, steps=steps, window_steps=window_steps)


__all__ = ["PAD_CURRENT", "PhaseCounts", "RAIL_HIGH", "StackedSpikingNetwork", "block_diagonal", "brian_objects", "build_stacked_network",
           "copy_synapses", "input_currents", "layer_rates", "same_structure", "stacked_weights"]
