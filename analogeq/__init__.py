"""analogeq: energy-based networks trained with Equilibrium Propagation, run on emulated
resistive-crossbar and spiking hardware, with one robustness harness for float and hardware."""

__version__ = "0.1.0"
