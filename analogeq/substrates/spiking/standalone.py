"""The stacked spiking network as a compiled Brian2 ``cpp_standalone`` project.

The same Brian2 objects as the runtime network (:func:`analogeq.substrates.spiking.network.brian_objects`,
same equations, names and synapse order) are built on a private ``CPPStandaloneDevice``; Brian2
generates one C++ program holding the whole network and its run loop of ``steps`` clock steps,
and compiles it with ``make``. Nothing of a network's values is compiled in: every phase runs
the program with all of them as Brian2 run-time arguments (``set_from_command_line``), each
array written to a file under the project's ``static_arrays/``:

    aeq_neurons_<key>.{v, I_syn, I_const, w_self, theta, keep, count, total, decay, sigma, t_count_start}
    aeq_synapses_<key>.w                              (written again only when the weights change)
    aeq_neurons_<key>.{lastspike, not_refractory}     (cards with a refractory period)

and the state after the run is read back from the results folder (one per process). Every run
starts at t = 0, so spike times are kept relative to the start of the next run.

Cache: a project is identified by everything compiled into it (Brian2 version, layer sizes,
copies, steps, dt, refractory period, noise or not, OpenMP threads): ``project_key``. Projects
live in ``<backend.cache_dir>/<key>/`` (built under a file lock, so processes share them) and,
once built in a process, in ``_PROJECTS`` (a second network of the same shape reuses the same
Brian2 objects: no code generation, no ``make``). A project built in another process is
regenerated (about a second) and ``make`` finds every object file up to date: nothing is
compiled. ``compile_count()`` counts the builds whose ``make`` (re)linked the program.

Membrane noise: the program seeds its generators from the environment variable
``AEQ_BRIAN_SEED`` (per run, from the phase's seed), so noisy runs are reproducible; their
random numbers are not the runtime target's (another generator), only their law is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass

import numpy as np

from analogeq.substrates.spiking.backend import STANDALONE_TARGETS, BrianBackend
from analogeq.substrates.spiking.network import (PhaseCounts, _cheap_gc, _preserve_numpy_random, brian_objects, same_structure,
                                                 stacked_weights)

SEED_ENV = "AEQ_BRIAN_SEED"
_PROJECTS: dict[str, "StandaloneProject"] = {}
_LOCK = threading.Lock()
_COMPILES = [0]


def compile_count() -> int:
    """Builds in this process whose ``make`` produced a new program (a cache miss on disk)."""
    return _COMPILES[0]


def project_key(mapped, card, batch: int, steps: int, threads: int, target: str = "cpp_standalone") -> str:
    """Hash of everything compiled into a project (see module docstring)."""
    import brian2

    spec = {
        "brian2": brian2.__version__,
        "layer_sizes": list(mapped.layer_sizes),
        "batch": int(batch),
        "steps": int(steps),
        "dt_s": float(card.timing.dt_s),
        "refractory_steps": int(card.refractory_steps),
        "noisy": bool(card.noise.membrane_std > 0.0),
        "threads": int(threads),
        "format": 2,
    }
    if target != "cpp_standalone":  # (cpp_standalone keys stay those of the caches built before)
        spec["device"] = target
    if mapped.sparse:  # the synapse pattern is compiled in (as the project's connectivity arrays)
        h = hashlib.sha1()
        for w in mapped.weights:
            if hasattr(w, "indptr"):
                h.update(np.ascontiguousarray(w.indptr, dtype=np.int64).tobytes())
                h.update(np.ascontiguousarray(w.indices, dtype=np.int64).tobytes())
        spec["pattern"] = h.hexdigest()
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class StandaloneProject:
    """A built project: its directory, device, Brian2 objects and whether this build compiled."""

    key: str
    directory: str
    device: object
    group: object
    synapses: object
    steps: int
    compiled: bool


def _mtime(path: str) -> float | None:
    return os.path.getmtime(path) if os.path.exists(path) else None


def _canonical_includes(include_dirs: list[str]) -> list[str]:
    """The C++ include folders without the two that Brian2's cython compiler appends to the
    process-wide preference (numpy's and ``brian2/synapses``; a standalone project needs
    neither): the makefile, and so whether ``make`` rebuilds, then does not depend on whether
    a cython extension was compiled earlier in the process."""
    import brian2.synapses

    drop = {os.path.dirname(brian2.synapses.__file__), np.get_include()}
    out: list[str] = []
    for d in include_dirs:
        if d not in drop and d not in out:
            out.append(d)
    return out


def _build(mapped, card, batch: int, steps: int, backend: BrianBackend, key: str) -> StandaloneProject:
    import brian2 as b2
    from brian2.devices.device import reset_device, set_device
    from filelock import FileLock

    directory = os.path.join(backend.cache_dir, key)
    os.makedirs(backend.cache_dir, exist_ok=True)
    if backend.target == "cuda_standalone":
        from brian2cuda.device import CUDAStandaloneDevice as Device  # registers brian2cuda's device and prefs
    else:
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice as Device
    device = Device()
    prefs = b2.prefs.devices.cpp_standalone
    old_threads, old_includes = prefs.openmp_threads, list(b2.prefs.codegen.cpp.include_dirs)
    with FileLock(directory + ".lock"), _preserve_numpy_random():
        before = _mtime(os.path.join(directory, "main"))
        prefs.openmp_threads = backend.threads
        b2.prefs.codegen.cpp.include_dirs = _canonical_includes(old_includes)
        set_device(device, build_on_run=False)
        try:
            _, group, synapses = brian_objects(b2, mapped, card, batch, None, suffix="_" + key)
            if card.noise.membrane_std > 0.0:
                n_gen = max(backend.threads, 1)
                device.insert_code("main", f'{{ const char* _s = getenv("{SEED_ENV}"); unsigned long _seed = _s ? strtoul(_s, 0, 10) : 0UL;\n'
                                           f"  for (int _i=0; _i<{n_gen}; _i++) brian::_random_generators[_i].seed(_seed + _i); }}")
            objects = [group] + ([synapses] if synapses is not None else [])
            network = b2.Network(*objects, name="aeq_network_" + key)
            with _cheap_gc():
                network.run(steps * card.timing.dt_s * b2.second, namespace={})
            device.build(directory=directory, compile=True, run=False, with_output=False)
        finally:
            reset_device()
            prefs.openmp_threads = old_threads
            b2.prefs.codegen.cpp.include_dirs = old_includes
        compiled = _mtime(os.path.join(directory, "main")) != before
    if compiled:
        _COMPILES[0] += 1
    return StandaloneProject(key, directory, device, group, synapses, steps, compiled)


def get_project(mapped, card, batch: int, steps: int, backend: BrianBackend) -> StandaloneProject:
    """The project of this shape: from this process's cache, else built (from disk if there)."""
    key = project_key(mapped, card, batch, steps, backend.threads, backend.target)
    with _LOCK:
        if key not in _PROJECTS:
            _PROJECTS[key] = _build(mapped, card, batch, steps, backend, key)
        return _PROJECTS[key]


class StandaloneSpikingNetwork:
    """``batch`` copies of ``mapped`` on ``card`` run by compiled standalone projects (one per
    phase length), with the interface of :class:`~analogeq.substrates.spiking.network.StackedSpikingNetwork`:
    :meth:`reset`, :meth:`set_currents`, :meth:`run_phase`, :meth:`snapshot`,
    :meth:`load_snapshot`, :meth:`update_weights`. The state lives here (numpy) between runs."""

    def __init__(self, mapped, card, batch: int, backend: BrianBackend):
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
        if backend.target not in STANDALONE_TARGETS or backend.cache_dir is None:
            raise ValueError(f"StandaloneSpikingNetwork needs a resolved standalone backend {STANDALONE_TARGETS}, got {backend!r}")
        if backend.target == "cuda_standalone" and card.noise.membrane_std > 0.0:
            raise ValueError(f"target='cuda_standalone' runs noise-free cards only (card {card.name!r} has noise.membrane_std "
                             f"{card.noise.membrane_std}); use 'cpp_standalone', 'cython' or 'numpy'")
        self.card = card
        self.batch = batch
        self.backend = backend
        self.n = mapped.n_neurons
        self.n_total = batch * self.n
        self.dt_s = card.timing.dt_s
        self.decay = card.syn_decay
        self.refractory_steps = card.refractory_steps
        self.projects: dict[int, StandaloneProject] = {}
        self._tag = f"aeq{os.getpid()}_{id(self):x}"
        self._w_version = 0
        self._written: dict[str, str] = {}  # project dir -> weight file written there
        self.state: dict[str, np.ndarray] = {}
        self.mapped = mapped
        self.update_weights(mapped, check=False)
        self.set_currents(np.zeros(self.n_total))
        self.reset()

    # ------------------------------------------------------------------ values
    def update_weights(self, mapped, check: bool = True) -> None:
        """New weights (same layer sizes) and per-neuron parameters: written at the next run."""
        if check and not same_structure(mapped, self.mapped):
            raise ValueError("update_weights needs a mapped network of the same layer sizes and synapse pattern")
        self.mapped = mapped
        self.w = stacked_weights(mapped, self.batch, self.decay)
        self.theta = np.tile(mapped.concat("theta"), self.batch).astype(np.float32)
        self.keep = np.tile(1.0 - mapped.concat("leak"), self.batch).astype(np.float32)
        self._w_version += 1

    def reset(self) -> None:
        """Every neuron at rest: v = 0, no synaptic current, not refractory."""
        self.state = {"v": np.zeros(self.n_total, np.float32), "I_syn": np.zeros(self.n_total, np.float32)}
        if self.refractory_steps > 0:
            self.state["lastspike"] = np.full(self.n_total, -1e9)
            self.state["not_refractory"] = np.ones(self.n_total, dtype=bool)

    def snapshot(self) -> dict[str, np.ndarray]:
        """The dynamic state (spike times relative to the start of the next run)."""
        return {k: v.copy() for k, v in self.state.items()}

    def load_snapshot(self, snap: dict[str, np.ndarray]) -> None:
        self.state = {k: np.array(v) for k, v in snap.items() if k != "t"}

    def set_currents(self, i_const: np.ndarray, w_self: np.ndarray | None = None) -> None:
        """As :meth:`StackedSpikingNetwork.set_currents`."""
        self.i_const = np.asarray(i_const, dtype=np.float32).reshape(self.n_total) if np.size(i_const) > 1 else np.full(self.n_total, float(np.asarray(i_const).item()), np.float32)
        ws = np.zeros(self.n_total) if w_self is None else np.asarray(w_self, dtype=np.float64).reshape(self.n_total) * (1.0 - self.decay)
        self.w_self = ws.astype(np.float32)

    # ------------------------------------------------------------------ running
    def project(self, steps: int) -> StandaloneProject:
        if steps not in self.projects:
            self.projects[steps] = get_project(self.mapped, self.card, self.batch, steps, self.backend)
        return self.projects[steps]

    def _file(self, project: StandaloneProject, name: str, values: np.ndarray) -> str:
        rel = os.path.join("static_arrays", f"{self._tag}_{name}.dat")
        values.tofile(os.path.join(project.directory, rel))
        return rel

    def _args(self, project: StandaloneProject, steps: int, window_steps: int) -> list[str]:
        g = project.group.name
        args = [f"{g}.{name}={self._file(project, name, arr)}" for name, arr in
                (("v", self.state["v"]), ("I_syn", self.state["I_syn"]), ("I_const", self.i_const),
                 ("w_self", self.w_self), ("theta", self.theta), ("keep", self.keep))]
        args += [f"{g}.count=0.0", f"{g}.total=0.0", f"{g}.decay={float(self.decay)!r}",
                 f"{g}.sigma={float(self.card.noise.membrane_std)!r}",
                 f"{g}.t_count_start={(steps - window_steps - 0.5) * self.dt_s!r}"]
        if self.refractory_steps > 0:
            args.append(f"{g}.lastspike={self._file(project, 'lastspike', self.state['lastspike'].astype(np.float64))}")
            args.append(f"{g}.not_refractory={self._file(project, 'not_refractory', self.state['not_refractory'].astype(bool))}")
        if project.synapses is not None:
            wname = f"w{self._w_version}"
            old = self._written.get(project.directory)
            if old != wname:
                if old is not None:
                    _remove(os.path.join(project.directory, "static_arrays", f"{self._tag}_{old}.dat"))
                self._file(project, wname, self.w)
                self._written[project.directory] = wname
            args.append(f"{project.synapses.name}.w=static_arrays/{self._tag}_{wname}.dat")
        return args

    def run_phase(self, steps: int, window_steps: int, seed: int) -> PhaseCounts:
        """Run ``steps`` clock steps (one execution of the compiled program) and return the spike
        counts, as :meth:`StackedSpikingNetwork.run_phase`."""
        if not (1 <= window_steps <= steps):
            raise ValueError(f"window_steps must be in [1, steps={steps}], got {window_steps}")
        p = self.project(steps)
        dev = p.device
        if self.card.noise.membrane_std > 0.0:
            dev.run_environment_variables[SEED_ENV] = str(int(seed) % (2**32))
        dev.run(directory=p.directory, results_directory=f"results_{self._tag}", with_output=False,
                run_args=self._args(p, steps, window_steps))
        g = p.group
        self.state["v"] = np.array(g.v_[:], dtype=np.float32)
        self.state["I_syn"] = np.array(g.I_syn_[:], dtype=np.float32)
        if self.refractory_steps > 0:
            self.state["lastspike"] = np.array(g.lastspike_[:], dtype=np.float64) - steps * self.dt_s
            self.state["not_refractory"] = np.array(g.not_refractory[:], dtype=bool)
        window = np.array(g.count_[:], dtype=np.float64).reshape(self.batch, self.n)
        total = np.array(g.total_[:], dtype=np.float64).reshape(self.batch, self.n)
        return PhaseCounts(window=window, total=total, steps=steps, window_steps=window_steps)

    def close(self) -> None:
        """Remove this network's input files from the projects (also done at garbage collection)."""
        for p in self.projects.values():
            d = os.path.join(p.directory, "static_arrays")
            for f in os.listdir(d) if os.path.isdir(d) else ():
                if f.startswith(self._tag + "_"):
                    _remove(os.path.join(d, f))
            shutil.rmtree(os.path.join(p.directory, f"results_{self._tag}"), ignore_errors=True)
        self._written.clear()

    def __del__(self):  # best effort: the files are small next to the project
        try:
            self.close()
        except Exception:
            pass


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


__all__ = ["SEED_ENV", "StandaloneProject", "StandaloneSpikingNetwork", "compile_count", "get_project", "project_key"]
