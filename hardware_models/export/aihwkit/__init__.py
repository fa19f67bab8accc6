"""A crossbar card to and from a plain dict in aihwkit's names and units (no aihwkit needed).

IBM aihwkit describes an inference crossbar with an ``InferenceRPUConfig`` holding I/O
parameters (``IOParameters``: DAC/ADC resolution and bounds, output noise), a tile size
(``MappingParameter``), a PCM noise model (``PCMLikeNoiseModel`` with a
``SinglePairConductanceConverter``) and a drift compensation. :func:`card_to_aihwkit` writes
those numbers as a JSON-ready dict, :func:`aihwkit_to_card` reads such a dict back into a card.
Someone with aihwkit installed builds the configuration from the dict by hand, e.g.::

    d = json.load(open("pcm.aihwkit.json"))
    nm = d["noise_model"]
    rpu = InferenceRPUConfig()
    for k, v in d["forward"].items():
        setattr(rpu.forward, k, v)
    rpu.mapping.max_input_size = d["mapping"]["max_input_size"]
    rpu.mapping.max_output_size = d["mapping"]["max_output_size"]
    rpu.noise_model = PCMLikeNoiseModel(
        prog_coeff=nm["prog_coeff"],
        g_converter=SinglePairConductanceConverter(**{k: v for k, v in nm["g_converter"].items() if k != "class"}),
        t_read=nm["t_read"], t_0=nm["t_0"], prog_noise_scale=nm["prog_noise_scale"],
        read_noise_scale=nm["read_noise_scale"], drift_scale=nm["drift_scale"])
    rpu.drift_compensation = GlobalDriftCompensation() if d["drift_compensation"] else None

Field-by-field mapping (card field -> dict key [unit], exact unless noted)
-------------------------------------------------------------------------
``forward`` (aihwkit ``IOParameters``; aihwkit's step is ``res * 2 * bound``, see below):

* ``dac.bits`` b -> ``inp_res = 1 / (2**b - 2)`` [fraction of the input range]; ``None`` -> ``-1``
  (aihwkit: <= 0 means no discretisation). Both quantisers are signed mid-tread: the card's DAC
  has ``L = 2**(b-1) - 1`` levels per side over [-1, 1], step ``1 / L``; aihwkit's step is
  ``inp_res * 2 * inp_bound = 2 / (2**b - 2) = 1 / L`` with ``inp_bound = 1``. 7 bits <-> 1/126.
  Reading back, ``b = log2(1 / inp_res + 2)`` must be an integer (``inp_res > 1`` is read as a
  number of steps, as aihwkit does).
* ``inp_bound = 1.0`` always: card inputs in [-1, 1] are +-``dac.v_read_V`` (aihwkit is unitless;
  ``v_read_V`` is not carried).
* ``adc.bits`` b -> ``out_res = 1 / (2**b - 2)``; ``adc.range_units`` -> ``out_bound``. Output
  units are the same on both sides: one full-scale weight (``g_max_S - g_min_S``) at full-scale
  input (``v_read_V``) is 1. Step ``range_units / L`` = aihwkit's ``out_res * 2 * out_bound``.
  9 bits, 12 <-> 1/510, 12. ``adc.bits = None`` -> ``out_res = -1`` (no rounding) but aihwkit
  still clips at ``out_bound`` where the card's ideal ADC does not clip (noted as a loss).
* ``tia.noise_units`` -> ``out_noise`` (std of the additive output noise, same unit).

``mapping`` (aihwkit ``MappingParameter``): ``tile.max_rows`` -> ``max_input_size`` (rows are
driven by the inputs), ``tile.max_cols`` -> ``max_output_size``.

``noise_model`` (aihwkit ``PCMLikeNoiseModel``; aihwkit works in uS):

* ``class``: ``"PCMLikeNoiseModel"``.
* ``g_converter``: ``{"class": "SinglePairConductanceConverter", "g_max": g_max_S * 1e6,
  "g_min": g_min_S * 1e6}`` [uS]. aihwkit maps each matrix's max |W| to ``g_max`` (card
  ``mapping.w_max = None``); a fixed ``w_max`` has no aihwkit equivalent (noted as a loss).
* ``prog_coeff`` [uS]: aihwkit's programming std is ``sum_k c_k x^k * g_max / ref`` uS with
  x = g / g_max, where ``ref`` (``prog_coeff_g_max_reference``) defaults to ``g_max`` when
  ``prog_coeff`` is given. The card's ``prog_noise_coeffs`` p_k are fractions of g_max
  (``sigma = g_max_S * sum_k p_k x^k``), so ``c_k = p_k * g_max_uS``; reading back
  ``p_k = c_k / ref``. For the ``pcm`` preset this is aihwkit's default ``[0.26348, 1.9650,
  -1.1731]`` at 25 uS. The reference is not written and the recipe does not pass it: aihwkit
  1.2.0's ``PCMLikeNoiseModel.__init__`` stores an explicit ``prog_coeff_g_max_reference`` only
  when it is None, so passing it makes ``apply_programming_noise_to_conductance`` raise
  AttributeError (checked against the sdist's sources by ``benchmarks/check_aihwkit_sdist.py``).
  A dict that carries the key (older exports) is still read.
* ``t_read`` [s] <- ``device.t_read_s`` (the 1/f integration time, not ``timing.t_read_s``);
  ``t_0`` [s] <- ``device.t0_s``.
* ``prog_noise_scale``, ``read_noise_scale``, ``drift_scale`` <- the device's
  ``programming_noise_scale``, ``read_noise_scale``, ``drift_scale``.
* ``pcm_constants`` (not an aihwkit argument; aihwkit hard-codes these): the drift exponent
  ``nu_mean = clamp(slope * ln x + offset, min, max)`` and ``nu_std`` likewise, and the 1/f
  amplitude ``Q = min(q0 / max(x**exponent, 1e-3), q_max)``, with the card's
  ``nu_mean_log_coeffs``, ``nu_mean_range``, ``nu_std_log_coeffs``, ``nu_std_range``,
  ``read_noise_q0``, ``read_noise_q_exponent``, ``read_noise_q_max``. If they differ from
  aihwkit's built-in values (-0.0155, 0.0244, [0.049, 0.1]; -0.0125, -0.0059, [0.008, 0.045];
  0.0088, 0.65, 0.2) aihwkit cannot use them (noted as a loss); they still round-trip here.
  Time origin: aihwkit's ``t_inference`` counts from ``t_0``; the card's t counts from
  programming, so aihwkit's ``t_inference`` is our ``t_s = t_inference + t_0``.

``drift_compensation``: card ``"global"`` -> ``"GlobalDriftCompensation"``, ``"none"`` -> ``None``.

``device_kind``: ``"pcm"`` or ``"ideal"`` (an ideal card is written as a PCM noise model with
all three scales 0, which makes aihwkit's model noiseless, and read back as an ideal device).

Not carried (taken from the ``base`` card on import, default the ``pcm`` preset): ``name``
(kept as ``card_name``), ``description``, ``references``, ``dac.v_read_V``, ``tia.gain_ohm``,
``timing``, ``neuron``, ``cost``, ``update``. Lost with a change of behaviour (export refuses
unless ``allow_loss=True``; :func:`aihwkit_losses` lists them): device kinds other than pcm and
ideal, finite ``levels``, stuck-at ``faults``, wire resistances (aihwkit's IR-drop models are
different approximations), a fixed ``mapping.w_max``, non-aihwkit PCM constants, ``adc.bits = None``.
"""

from .fields import AIHWKIT_PCM_CONSTANTS, FORMAT_NAME, FORMAT_VERSION, bits_to_res, res_to_bits
from .read import aihwkit_to_card
from .write import aihwkit_losses, card_to_aihwkit

__all__ = [
    "AIHWKIT_PCM_CONSTANTS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "aihwkit_losses",
    "aihwkit_to_card",
    "bits_to_res",
    "card_to_aihwkit",
    "res_to_bits",
]
