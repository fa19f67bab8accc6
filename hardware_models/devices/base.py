"""What every resistive device model offers to a crossbar tile.

A device model describes one kind of memory cell (ideal, PCM, RRAM, measured table ...).
A crossbar tile uses it in two moments:

1. **Programming** (once per programming draw): target conductances ``g_target`` [S], an array
   of any shape, become programmed conductances with their device-to-device randomness fixed
   (programming noise, drift exponents, stuck cells) -> :class:`ProgrammedConductances`.
2. **Reading** at a time ``t_s`` [s] after programming: the mean conductance of each cell at that
   time (:meth:`ProgrammedConductances.at_time`, deterministic once programmed) and the standard
   deviation of one read of each cell (:meth:`ProgrammedConductances.read_sigma`). The tile draws
   read noise itself, exactly in distribution as an output noise (DESIGN.md, "Noise").

All conductances are in siemens, times in seconds. Device models are frozen dataclasses that
validate their parameters at construction and round-trip through ``to_dict``/``from_dict``
(the ``device`` section of a device card).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class DeviceModel(Protocol):
    """Protocol of a device model (see module docstring)."""

    #: name of the device kind in cards, e.g. ``"ideal"``, ``"pcm"``, ``"rram"``, ``"table"``
    kind: str
    #: lowest and highest programmable conductance [S]
    g_min_S: float
    g_max_S: float

    def program(self, g_target: np.ndarray, rng: np.random.Generator) -> "ProgrammedConductances":
        """One programming draw of target conductances ``g_target`` [S] (values in [g_min_S, g_max_S])."""
        ...

    def conductance_at(self, programmed: "ProgrammedConductances", t_s: float) -> np.ndarray:
        """Mean conductance [S] of every cell at ``t_s`` seconds after programming (drift applied)."""
        ...

    def read_noise_std(self, g: np.ndarray, t_s: float) -> np.ndarray:
        """Standard deviation [S] of one read of cells of conductance ``g`` at time ``t_s``.

        Readers call :meth:`ProgrammedConductances.read_sigma`, which knows the programmed state
        (a device whose law depends on it, like PCM, is evaluated there; never call this with a
        drifted conductance for such a device)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The ``device`` section of a card (JSON-serialisable, SI units)."""
        ...


@dataclass(frozen=True)
class ProgrammedConductances:
    """The cells of an array after one programming draw.

    Attributes
    ----------
    g_prog_S:
        Conductance of each cell right after programming, at the reference time ``t0_s`` [S].
    nu:
        Drift exponent of each cell, g(t) = g_prog (t / t0)^(-nu) for t >= t0; ``None`` for a
        device that does not drift.
    stuck:
        Boolean mask of cells stuck at g_min or g_max (they neither drift nor respond to
        updates), or ``None`` where no cell is stuck.
    t0_s:
        Reference time of the drift law [s] (aihwkit's PCM model: 20 s).
    device:
        The model that produced this draw; it evaluates drift and read noise.
    relax_S:
        Per-cell amplitude of the random retention relaxation [S per sqrt(decade)] for devices
        that relax as a random walk in log time (RRAM); ``None`` for devices that do not.
        Drawn at programming, like ``nu``.
    """

    g_prog_S: np.ndarray
    nu: np.ndarray | None
    stuck: np.ndarray | None
    t0_s: float
    device: DeviceModel
    relax_S: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the programmed array."""
        return tuple(self.g_prog_S.shape)

    def at_time(self, t_s: float) -> np.ndarray:
        """Mean conductance [S] of every cell ``t_s`` seconds after programming."""
        return self.device.conductance_at(self, t_s)

    def read_sigma(self, t_s: float) -> np.ndarray:
        """Standard deviation [S] of one read of every cell at ``t_s`` seconds after programming.

        ``device.read_noise_std(g(t), t)`` by default. A device whose relative read noise is
        fixed by the programmed state rather than by the drifted conductance (PCM: the 1/f
        amplitude Q is set by the programmed amorphous volume, as in aihwkit) defines
        ``read_noise_std_programmed(programmed, t_s)``, which is then used instead.
        """
        per_state = getattr(self.device, "read_noise_std_programmed", None)
        if per_state is not None:
            return per_state(self, t_s)
        return self.device.read_noise_std(self.at_time(t_s), t_s)
