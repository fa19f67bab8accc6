"""Deep variational information bottleneck (Alemi, Fischer, Dillon & Murphy, ICLR 2017).

For a :class:`~analogeq.baselines.models.VIBClassifier` with encoder q(z | x) = N(mu(x), diag sigma(x)^2):

    L = 1/B sum_i [ 1/S sum_s CE(dec(mu_i + sigma_i * eps_is), y_i) + beta * KL_i ],   eps ~ N(0, I)
    KL_i = KL(N(mu_i, sigma_i^2) || N(0, I)) = 1/2 sum_k (mu_ik^2 + sigma_ik^2 - 1 - ln sigma_ik^2)

(reparameterisation trick; S = ``train_samples`` draws per example, eps from the trainer's seeded
generator). The paper's settings (MNIST): K = 256, beta = 1e-3, Adam; 12 posterior samples at
test time. Here the test-time prediction is the posterior mean (see the model). No adversarial
examples are used in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import Defence, check_finite_loss
from hardware_models.params import Integer, Real, validate_params

_VIB_CONSTRAINTS = {"beta": Real(minimum=0.0), "train_samples": Integer(minimum=1)}


def gaussian_kl_to_standard(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per example, (B,)."""
    return 0.5 * (mu.pow(2) + sigma.pow(2) - 1.0 - 2.0 * torch.log(sigma)).sum(dim=1)


@dataclass(frozen=True)
class VIB(Defence):
    """beta (>= 0): weight of the KL term; train_samples (>= 1): reparameterised draws per example."""

    beta: float = 1e-3
    train_samples: int = 1

    name = "vib"

    def __post_init__(self) -> None:
        validate_params({"beta": self.beta, "train_samples": self.train_samples}, _VIB_CONSTRAINTS, owner="VIB")

    def loss(self, model, x: torch.Tensor, x_adv: Any, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise TypeError(
                f"the 'vib' defence needs a model with a stochastic encoder (model kind 'vib_mlp'), got {type(model).__name__}"
            )
        if generator is None:
            raise ValueError("the 'vib' defence needs a torch.Generator for the reparameterisation noise")
        mu, sigma = model.encode(x)
        eps = torch.randn((self.train_samples, *mu.shape), generator=generator).to(mu.device, mu.dtype)
        logits = model.decode(mu.unsqueeze(0) + sigma.unsqueeze(0) * eps)  # (S, B, C)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.repeat(self.train_samples))
        kl = gaussian_kl_to_standard(mu, sigma).mean()
        loss = ce + self.beta * kl
        return check_finite_loss(self.name, loss), {"ce": float(ce.detach()), "kl": float(kl.detach())}

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name, "beta": self.beta, "train_samples": self.train_samples}
