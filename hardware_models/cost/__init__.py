"""Cost model: energy [J] and latency [s] of crossbar reads and of a settling, from a card.

What is counted (see :mod:`.read` and :mod:`.settle` for the equations): resistive dissipation
in both devices of every differential pair during the read pulse (sum v^2 G t_read), one DAC
conversion per driven line, one ADC conversion per output, one neuron update per neuron and
step; latency t_read + t_adc per read. Not counted: IR-drop losses in the wires, static and
leakage power of the periphery, the TIA, digital accumulation of partial sums across tiles,
data movement and control. These figures are therefore a lower-bound-style estimate of the
analog core, in the spirit of NeuroSim's component sums, not a chip-level number.

Converter energies are a law of the card's bits (:func:`conversion_energies_J`, the one place
they are computed): one conversion of a b-bit converter costs ``FOM * 2^b`` (Walden figure of
merit, J per conversion step), with the FOMs in the card's ``cost`` section
(``adc_fom_J_per_step``, ``dac_fom_J_per_step``). Defaults, used by every shipped preset, and
where they come from (ranges honestly wide):

* ADC: FOM = 5 fJ/conversion-step (``ADC_FOM_DEFAULT_J_PER_STEP``): 0.08 pJ at 4 bits, 1.28 pJ
  at 8 bits, 2.56 pJ at 9 bits. State-of-the-art SAR ADCs span roughly 1-10 fJ/step at
  10 MS/s-1 GS/s (B. Murmann, ADC Performance Survey, Stanford), so a factor ~5 either way is
  plausible; for comparison Kull et al. (ISSCC 2013) report an 8-bit 1.2 GS/s SAR ADC at 3.1 mW,
  i.e. 2.6 pJ per conversion.
* DAC (one row drive): FOM = 50 fJ / 2^7 = 0.39 fJ/step (``DAC_FOM_DEFAULT_J_PER_STEP``), i.e.
  50 fJ at 7 bits, an order-of-magnitude assumption: charging a row of ~0.1 pF to 0.2 V costs
  C V^2 = 4 fJ, and a small multi-bit DAC adds tens of fJ. Range ~5 fJ-1 pJ at 7 bits.
* An ideal converter (``bits`` None) costs 0 J per conversion (nothing to cost).
* Neuron update: 0.5 pJ, an order-of-magnitude assumption for a digital update (a few 8-16-bit
  operations plus a register access; M. Horowitz, "Computing's energy problem", ISSCC 2014,
  45 nm: 8-bit add 0.03 pJ, 16-bit float add 0.4 pJ). An analog RC neuron node would rather
  cost C V^2 = 0.1 pF x (0.2 V)^2 = 4 fJ. Range ~4 fJ-1 pJ.
* Array: from the programmed conductances and the input voltages. For scale: a 512x512 PCM
  tile with both devices of every pair at 12.5 uS and every input at 0.2 V for 250 ns
  dissipates 512*512*2*12.5e-6*0.04*2.5e-7 J = 65.5 nJ in one read, far more than its 512 ADC
  conversions (1.3 nJ at 9 bits); typical inputs and conductances are well below full scale,
  and shorter read pulses than aihwkit's 250 ns reduce this term proportionally.
"""

from .read import (
    ADC_FOM_DEFAULT_J_PER_STEP,
    DAC_FOM_DEFAULT_J_PER_STEP,
    ReadCost,
    adc_energy_walden_J,
    conversion_energies_J,
    converter_energy_J,
    converter_summary,
    tile_read_cost,
    tile_read_cost_bound,
)
from .settle import SettleCost, settle_cost

__all__ = [
    "ADC_FOM_DEFAULT_J_PER_STEP",
    "DAC_FOM_DEFAULT_J_PER_STEP",
    "ReadCost",
    "SettleCost",
    "tile_read_cost",
    "tile_read_cost_bound",
    "settle_cost",
    "adc_energy_walden_J",
    "conversion_energies_J",
    "converter_energy_J",
    "converter_summary",
]
