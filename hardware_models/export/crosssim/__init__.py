"""A crossbar card to and from CrossSim-style JSON parameters (no CrossSim needed).

Sandia's CrossSim reads a ``CrossSimParameters`` tree from JSON (``CrossSimParameters.from_json``;
keys ``core``, ``xbar``, ``simulation``; a missing key keeps CrossSim's default, an unknown key
is an error there). :func:`card_to_crosssim` writes only keys of that tree, so the file can be
given to CrossSim as it is; :func:`crosssim_to_card` reads such a tree (written by us or by
CrossSim's ``to_json``) back into a card.

How sure we are of each name: the names below were read from CrossSim 3.x sources (parameter
dataclasses, device and converter models). Marked **exact** where CrossSim's code computes the
same thing as the card; **approx.** where CrossSim's normalisation or topology differs from the
card's or where its versions disagree.

Field-by-field mapping (card field -> CrossSim key [unit])
---------------------------------------------------------
Device (``xbar.device``):

* ``device.g_max_S`` -> ``Rmin = 1 / g_max_S`` [ohm] (exact; CrossSim normalises conductances
  by Gmax = 1/Rmin).
* ``device.g_min_S`` -> ``Rmax = 1 / g_min_S`` [ohm], or ``infinite_on_off_ratio = true`` (and no
  Rmax) when g_min_S = 0 (exact).
* ``levels.n_levels`` n -> ``cell_bits = log2(n)`` (CrossSim programs 2**cell_bits evenly spaced
  levels between Gmin and Gmax, as the card does); n must be a power of two; None -> 0 (exact).
* Programming error ``programming_error {enable, model, magnitude}``, from a PCM card whose
  drift and read noise are off (``drift_scale = read_noise_scale = 0``):

  - ``model "PCMJoshi"`` (no magnitude) when ``prog_noise_coeffs`` is CrossSim's Joshi fit
    sigma_uS = -0.00178767 G^2 + 0.07585724 G + 0.28638599 (G in uS) written relative to this
    card's g_max, i.e. p = (0.28638599 / gm, 0.07585724, -0.00178767 gm) with gm = g_max in uS,
    ``programming_noise_scale = 1`` and g_max <= 25 uS (CrossSim refuses more) (exact);
  - ``model "NormalIndependentDevice"``, ``magnitude = programming_noise_scale * p_0`` when
    p = (p_0,): sigma = magnitude * g_max (exact);
  - ``model "NormalProportionalDevice"``, ``magnitude = programming_noise_scale * p_1`` when
    p = (0, p_1): sigma = magnitude * g (exact);
  - an ideal card -> ``model "IdealDevice"``, ``enable false``.

  Reading back, these become a PCM card with that polynomial, ``programming_noise_scale = 1``
  (the scale is folded into ``magnitude``) and drift and read noise off; IdealDevice everywhere
  gives an ideal device.
* ``read_noise`` and ``drift_error``: always ``IdealDevice`` (disabled). CrossSim's generic read
  noise (a fixed fraction of Gmax or of G, redrawn per MVM) and its drift models are not the
  card's PCM 1/f noise and power-law drift, so a card with either on is a loss, and a CrossSim
  file with either on is refused on import (unless ``allow_loss``).

Array (``xbar.array.parasitics``):

* ``wires.r_row_segment_ohm`` -> ``Rp_row = r / Rmin``, ``wires.r_col_segment_ohm`` ->
  ``Rp_col = r / Rmin``, ``enable`` = any nonzero (approx.: CrossSim 3.0's
  ``applications/mvm_params.py`` stores the wire resistance divided by Rmin and its solvers work
  in units of Rmin, while its parameter readme calls the value ohms; ``rp_normalized=False``
  writes ohms instead. CrossSim solves the same resistive network iteratively with
  under-relaxation; the position of drivers and sense amplifiers may differ from the card's.)
  Rows are the input lines in both (CrossSim's MVM with ``row_in``). ``r_source_ohm`` and
  ``r_sense_ohm`` have no CrossSim 3.0 key (a loss when nonzero).

Converters (``xbar.dac`` / ``xbar.adc``, ``mvm`` and ``vmm`` identical, ``_match true``):

* ``dac.bits`` b -> ``{"model": "SignMagnitudeDAC", "bits": b, "signed": true}``: 2**b - 1 levels
  over [-1, 1], step 1 / (2**(b-1) - 1), the card's DAC (exact); None -> ``IdealDAC``, bits 0.
  Inputs map [-1, 1] (``core.mapping.inputs.mvm {min: -1, max: 1, clipping: true}``); the
  card's ``dac.v_read_V`` is not carried (CrossSim is unitless).
* ``adc.bits`` b -> ``{"model": "SignMagnitudeADC", "bits": b, "signed": true,
  "adc_range_option": "CALIBRATED", "calibrated_range": [-R, R]}`` with
  ``R = range_units * (g_max - g_min) / g_max`` (approx.: the card's unit is one full-scale weight
  (g_max - g_min) at full input; we take CrossSim's ADC unit to be one cell at Gmax at full
  input, as its ``MAX`` range option, +-number of inputs, implies; equal when g_min = 0).
  None -> ``IdealADC`` (bits 0, no clipping) (exact).

Core (``core``): ``style "BALANCED"``, ``balanced.style "ONE_SIDED"`` (one conductance of the
pair at Gmin, as the card's differential pair), ``subtract_current_in_xbar true``;
``tile.max_cols`` -> ``rows_max`` and ``tile.max_rows`` -> ``cols_max`` (approx.: CrossSim's
matrix is (outputs x inputs), so its rows are our columns); ``mapping.w_max`` w ->
``core.mapping.weights {min: -w, max: w, clipping: true, percentile: null}``; None ->
``{min: null, max: null, percentile: 1.0}`` (max |W| of each matrix).

Not carried (from the ``base`` card on import, default the ``pcm-crosssim`` preset): name,
description, references, ``dac.v_read_V``, ``tia.gain_ohm``, ``drift_compensation``,
``timing``, ``neuron``, ``cost``, ``update``. Lost with a change of behaviour (export refuses
unless ``allow_loss=True``; :func:`crosssim_losses` lists them): PCM drift and 1/f read noise,
programming-noise polynomials other than the three above, RRAM and table devices, stuck-at
faults, a number of levels that is not a power of two, driver/sense resistances, TIA output
noise (``tia.noise_units``), 1-bit converters.
"""

from .fields import CROSSSIM_DEFAULTS, JOSHI_A, JOSHI_B, JOSHI_C, JOSHI_G_MAX_LIMIT_S, PROGRAMMING_MODELS, joshi_coeffs_rel
from .read import crosssim_to_card
from .write import card_to_crosssim, crosssim_losses

__all__ = [
    "CROSSSIM_DEFAULTS",
    "JOSHI_A",
    "JOSHI_B",
    "JOSHI_C",
    "JOSHI_G_MAX_LIMIT_S",
    "PROGRAMMING_MODELS",
    "card_to_crosssim",
    "crosssim_losses",
    "crosssim_to_card",
    "joshi_coeffs_rel",
]
