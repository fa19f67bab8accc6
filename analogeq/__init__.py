"""analogeq: energy-based networks trained with Equilibrium Propagation, run on emulated
resistive-crossbar and spiking hardware, with one robustness harness for float and hardware.

Importing the package has no side effects: the process-wide settings (``OMP_WAIT_POLICY``) are
made by the command line's entry point (:mod:`analogeq.threads`)."""

__version__ = "0.1.0"
