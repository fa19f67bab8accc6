"""analogeq: energy-based networks trained with Equilibrium Propagation, run on emulated
resistive-crossbar and spiking hardware, with one robustness harness for float and hardware."""

import os as _os

# Numba's parallel kernels and torch each keep an OpenMP worker pool. With the default (active)
# wait policy, idle workers of one pool spin and starve the other on small machines (10-30x
# slower crossbar evaluations measured on 2 cores). Passive waiting costs nothing measurable
# here. It must be set before either runtime loads; a value the user set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
