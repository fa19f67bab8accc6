"""CrossSim's names and constants for the card mapping (see :mod:`hardware_models.export.crosssim`):
its PCM (Joshi) programming-error fit, the defaults of keys a file leaves out, the programming
error models that map to a card."""

from __future__ import annotations

#: CrossSim's PCM_Joshi programming-error fit, sigma_uS = A G^2 + B G + C with G in uS (G <= 25 uS)
JOSHI_A, JOSHI_B, JOSHI_C = -0.00178767, 0.07585724, 0.28638599
JOSHI_G_MAX_LIMIT_S = 25e-6
#: CrossSim defaults used for keys a file leaves out (CrossSim 3.0 parameter classes / default.json)
CROSSSIM_DEFAULTS = {"Rmin": 1000.0, "Rmax": 10000.0, "rows_max": 1024, "cols_max": 1024}
PROGRAMMING_MODELS = ("IdealDevice", "PCMJoshi", "NormalIndependentDevice", "NormalProportionalDevice")
REL_TOL = 1e-9


def joshi_coeffs_rel(g_max_S: float) -> tuple[float, float, float]:
    """CrossSim's Joshi polynomial as the card's ``prog_noise_coeffs`` (fractions of g_max in
    powers of x = g / g_max) for a device with this g_max [S]: (C/gm, B, A gm), gm in uS."""
    gm = g_max_S * 1e6
    return (JOSHI_C / gm, JOSHI_B, JOSHI_A * gm)

