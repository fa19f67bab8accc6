"""Numba kernels for the per-read work of a crossbar: DAC, output noise, TIA noise, ADC.

All kernels are compiled with ``cache=True`` and give the same numbers whatever the thread
count (``numba.set_num_threads``): the work is split by batch row, every output element is
computed from its own inputs only, and random numbers come from a **counter-based** generator,
so element ``n`` of a read gets the same normal deviate for the same key whichever thread
computes it. Each kernel has a plain numpy twin (:func:`dac_reference`, :func:`adc_reference`)
that gives bit-identical results; the tests hold them to that.

The kernels live in three modules, one job each; this module is their one import path:

* :mod:`hardware_models.crossbar.normals`: the counter-based normal generator
  (:func:`counter_normals`, :func:`stream_normals` for other Numba code) and
  :func:`use_parallel`;
* :mod:`hardware_models.crossbar.dac_kernels`: the DAC (:func:`dac_kernel`, :func:`dac_reference`);
* :mod:`hardware_models.crossbar.adc_kernels`: output noise + TIA noise + ADC
  (:func:`adc_kernel`, :func:`adc_reference`).
"""

from __future__ import annotations

from .adc_kernels import adc_kernel, adc_reference
from .dac_kernels import dac_kernel, dac_reference
# _stream_normals_split: the two-pass generator, imported from here by analogeq's fused settling
from .normals import _stream_normals_split, counter_normals, stream_normals, use_parallel  # noqa: F401

__all__ = [
    "counter_normals",
    "stream_normals",
    "dac_kernel",
    "dac_reference",
    "adc_kernel",
    "adc_reference",
    "use_parallel",
]
