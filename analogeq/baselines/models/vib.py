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

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from analogeq.baselines._checks import (
    check_choice,
    check_float,
    check_input_shape,
    check_int,
    check_sizes,
)
from analogeq.baselines.models.common import ACTIVATIONS, make_activation, seeded_init
from analogeq.ebm.config_dict import config_from_dict
from analogeq.contract import GradientSpec


@dataclass(frozen=True)
class VIBConfig:
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
        object.__setattr__(self, "input_shape", check_input_shape("VIBConfig.input_shape", self.input_shape))
        object.__setattr__(self, "hidden_sizes", check_sizes("VIBConfig.hidden_sizes", self.hidden_sizes, allow_empty=True))
        check_int("VIBConfig.latent_dim", self.latent_dim, 1)
        check_int("VIBConfig.num_classes", self.num_classes, 2)
        check_choice("VIBConfig.activation", self.activation, ACTIVATIONS)
        check_float("VIBConfig.sigma_offset", self.sigma_offset)
        check_int("VIBConfig.seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VIBConfig":
        return config_from_dict(cls, d, "vib_mlp")


class VIBClassifier(nn.Module):
    """``encoder`` (nn.Sequential ending in Linear(h, 2K)) and ``decoder`` (nn.Linear(K, classes))."""

    def __init__(self, config: VIBConfig):
        super().__init__()
        if not isinstance(config, VIBConfig):
            raise TypeError(f"config must be a VIBConfig, got {type(config).__name__}")
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes
        self.latent_dim = config.latent_dim
        sizes = [math.prod(config.input_shape), *config.hidden_sizes]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), make_activation(config.activation)]
        layers.append(nn.Linear(sizes[-1], 2 * config.latent_dim))
        self.encoder = nn.Sequential(*layers)
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
        check_int("samples", samples, 1)
        mu, sigma = self.encode(x)
        eps = torch.randn((samples, *mu.shape), generator=generator).to(mu.device, mu.dtype)
        return self.decode(mu.unsqueeze(0) + sigma.unsqueeze(0) * eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.encode(x)
        return self.decode(mu)  # test time: the posterior mean (deterministic)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        return self.forward(x)  # one pass: no settling
