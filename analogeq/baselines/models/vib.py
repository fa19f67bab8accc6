"""Deep variational information bottleneck classifier (Alemi et al. 2017, "Deep VIB").

Stochastic encoder, linear (logistic-regression) decoder:

    [m, s]  = encoder(x)                       (an MLP with a 2K-unit last layer)
    mu      = m,   sigma = softplus(s - sigma_offset)      (K each)
    z       = mu + sigma * eps,   eps ~ N(0, I_K)          (reparameterisation; training)
    logits  = W_dec z + b_dec

The training loss (:class:`analogeq.baselines.defences.VIB`) is
CE(decoder(z), y) + beta * KL(N(mu, diag sigma^2) || N(0, I)).

Test time: ``forward(x)`` decodes the **mean** z = mu, so the model is deterministic and the
harness needs no EOT. Alemi et al. instead averaged the softmax of 12 posterior samples;
:meth:`VIBClassifier.sample_logits` gives such samples (seeded) for whoever wants that variant.
``sigma_offset = 5`` starts training with small noise (softplus(-5) ~ 0.0067), the offset of the
common VIB implementations.

Digits default: 64 - 128 - (2 x 32) encoder, 32 -> 10 decoder: 16 906 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from analogeq.baselines.models.common import (
    ACTIVATED_CONSTRAINTS,
    BaselineClassifier,
    check_mlp_config,
    flat_mlp,
    seeded_init,
)
from analogeq.ebm.config_dict import JSONConfig
from hardware_models.params import Integer, Real, check_int

#: VIBConfig's constraints: those of the MLP, a latent dimension K >= 1, any finite sigma_offset
_VIB_CONSTRAINTS = {**ACTIVATED_CONSTRAINTS, "latent_dim": Integer(minimum=1), "sigma_offset": Real()}


@dataclass(frozen=True)
class VIBConfig(JSONConfig):
    """input_shape; hidden_sizes of the encoder MLP; latent_dim K; num_classes; activation;
    sigma_offset (sigma = softplus(s - sigma_offset)); seed."""

    input_shape: tuple[int, ...] = (1, 8, 8)
    hidden_sizes: tuple[int, ...] = (128,)
    latent_dim: int = 32
    num_classes: int = 10
    activation: str = "relu"
    sigma_offset: float = 5.0
    seed: int = 0
    kind: str = field(default="vib_mlp", init=False)

    def __post_init__(self) -> None:
        check_mlp_config(self, _VIB_CONSTRAINTS)


class VIBClassifier(BaselineClassifier):
    """``encoder`` (nn.Sequential ending in Linear(h, 2K)) and ``decoder`` (nn.Linear(K, classes))."""

    config_class = VIBConfig

    def __init__(self, config: VIBConfig):
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.encoder = flat_mlp(config, 2 * config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, config.num_classes)
        seeded_init(self, config.seed)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation (B, K) of q(z | x)."""
        h = self.encoder(x)
        mu, s = h[:, : self.latent_dim], h[:, self.latent_dim:]
        return mu, F.softplus(s - self.config.sigma_offset)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def sample_logits(self, x: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
        """Logits of ``samples`` reparameterised draws z = mu + sigma * eps: (samples, B, classes).

        eps is drawn on the CPU from ``generator`` (same seed, same draws on any device)."""
        check_int("samples", samples, minimum=1)
        mu, sigma = self.encode(x)
        eps = torch.randn((samples, *mu.shape), generator=generator).to(mu.device, mu.dtype)
        return self.decode(mu.unsqueeze(0) + sigma.unsqueeze(0) * eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.encode(x)
        return self.decode(mu)  # test time: the posterior mean (deterministic)
