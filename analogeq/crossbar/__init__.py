"""Energy-based networks on emulated resistive crossbars: the pieces of the crossbar substrate.

* :mod:`.cards`: resolve and check the crossbar card a substrate runs on;
* :mod:`.network`: the matrices of a network programmed on :class:`CrossbarArray` tiles, and
  their packed form for Numba;
* :mod:`.reads`: torch hardware reads and synapses (BPDA quantisation, reparameterised noise);
* :mod:`.kernels`: the fused Numba settling of dense EBMs;
* :mod:`.cost`: energy and latency per inference;
* :mod:`.training`: hardware-aware training (noise in the loop) and in-situ EqProp with pulses.

The substrate itself is :class:`analogeq.substrates.crossbar.CrossbarSubstrate`.
"""
