"""Adversarial attacks, one per module, behind one calling convention.

The convention
--------------
An attack is a small frozen dataclass deriving from :class:`~analogeq.robustness.attacks.common.Attack`
(one attack per module): its fields are the attack's parameters, checked when it is built against
its ``constraints`` table (:mod:`hardware_models.params`; a bad value raises ``ParameterError``, a
``ValueError`` and ``TypeError``, naming the class, the field, the value and what is allowed), and
``to_dict()`` gives them as a JSON dict. Calling it on a substrate and a batch runs it::

    from analogeq.robustness.attacks import PGD
    attack = PGD(eps=0.1, norm="linf", steps=20, restarts=2, seed=0)
    result = attack(substrate, x, y)          # -> AttackResult
    result.x_adv, result.success, result.distance

* ``substrate``: any :class:`~analogeq.substrates.base.Substrate` (float, crossbar, spiking...):
  attacks never ask which kind it is.
* ``x``: images (B, *substrate.input_shape) with every pixel in [0, 1], B >= 1;
  ``y``: integer labels (B,) in [0, num_classes). Anything else -> ``ValueError``/``TypeError``.
  Negative eps -> ``ValueError`` at construction.
* White-box attacks get gradients only from ``substrate.attack_logits(x, gradient)`` with the
  attack's ``gradient`` field (a :class:`~analogeq.substrates.base.GradientSpec`: full,
  implicit or truncated differentiation of the settling; BPDA and reparameterised noise live
  in the substrate). ``eot_samples = K`` averages the loss gradient over K calls (fresh noise
  draws; :mod:`analogeq.robustness.eot`).
* The black-box attack (Square) uses only ``substrate.logits``.
* ``seed``: random starts, windows and targets come from a ``torch.Generator`` seeded with it,
  and the substrate is ``reseed``-ed with it first: same seed, same result.
* The result: :class:`AttackResult` with ``x_adv`` (in [0, 1] and in the norm ball),
  ``success`` (B,) judged on ``substrate.logits`` (mean of ``eot_samples`` draws when the
  substrate is stochastic), ``distance`` (B,), timing and attack-specific extras.

Attacks
-------
=================  ==============================================================  =========
class              what                                                            norm
=================  ==============================================================  =========
FGSM               one signed-gradient step (L2: one normalised-gradient step)     linf, l2
PGD                projected gradient, random start, restarts                      linf, l2
APGD               Auto-PGD, CE or DLR loss (Croce & Hein 2020)                    linf, l2
APGDTargeted       targeted APGD-DLR over the top-k other classes                   linf, l2
NearestClassPGD    untargeted PGD towards the nearest linearised class boundary    linf, l2
CarliniWagnerL2    C&W L2, tanh box, Adam, binary search over c (unbounded)        l2
Square             score-based random search (Andriushchenko et al. 2020)          linf, l2
Transfer           any attack made on a source substrate, checked on the target    (inner)
=================  ==============================================================  =========
"""

from analogeq.robustness.attacks.apgd import APGD
from analogeq.robustness.attacks.apgd_targeted import APGDTargeted
from analogeq.robustness.attacks.common import AttackResult
from analogeq.robustness.attacks.cw import CarliniWagnerL2
from analogeq.robustness.attacks.fgsm import FGSM
from analogeq.robustness.attacks.nearest_class import NearestClassPGD
from analogeq.robustness.attacks.pgd import PGD
from analogeq.robustness.attacks.square import Square
from analogeq.robustness.attacks.transfer import Transfer

__all__ = ["APGD", "APGDTargeted", "AttackResult", "CarliniWagnerL2", "FGSM", "NearestClassPGD", "PGD", "Square", "Transfer"]
