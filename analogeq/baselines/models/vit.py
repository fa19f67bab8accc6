"""Small vision transformer (Dosovitskiy et al. 2021), pre-norm, class token, learned positions.

    tokens   = [cls; P flatten_patches(x)] + pos          P: Linear(C p^2 -> D)
    block    : t <- t + Proj(MHA(LN(t))),  t <- t + W_2 gelu(W_1 LN(t))
    MHA      : per head h, softmax(Q_h K_h^T / sqrt(D/H)) V_h with [Q, K, V] = Linear(D -> 3D)(t)
    logits   = Linear(D -> classes)(LN(t_cls))

Digits (8x8, patch 2 -> 16 tokens of 4 pixels; D 32, depth 2, 4 heads, MLP 64): 18 218
parameters, close to the dense EBM's 19 210. :meth:`ViTConfig.cifar10` uses patch 4 on 32x32
(64 tokens), the seed study's ViT patch size.

Hardware mapping: only the ``nn.Linear`` layers are weight reads (patch embedding, QKV,
attention output projection, the two MLP layers, the head); a crossbar substrate maps those and
must accept inputs with a token dimension ``(B, N, features)``. The attention products
Q K^T and A V multiply two *activations*, not a stored weight and an activation, so they are
not crossbar reads and stay digital, as do the softmax, LayerNorm, GELU, the class token and
the position embedding (additions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines.models.common import BaselineClassifier, seeded_init
from analogeq.ebm.config_dict import CLASSIFIER_CONSTRAINTS, JSONConfig, check_fields, check_shape
from hardware_models.params import Integer, ParameterError

#: ViTConfig's constraints: every size >= 1, num_classes >= 2, seed >= 0
_VIT_CONSTRAINTS = {
    **{name: Integer(minimum=1) for name in ("patch_size", "dim", "depth", "heads", "mlp_dim")},
    **CLASSIFIER_CONSTRAINTS,
}


@dataclass(frozen=True)
class ViTConfig(JSONConfig):
    """input_shape (C, H, W); patch_size divides H and W; dim D (divisible by heads); depth:
    transformer blocks; heads; mlp_dim: hidden units of each block's MLP; num_classes; seed."""

    input_shape: tuple[int, ...] = (1, 8, 8)
    patch_size: int = 2
    dim: int = 32
    depth: int = 2
    heads: int = 4
    mlp_dim: int = 64
    num_classes: int = 10
    seed: int = 0
    kind: str = field(default="vit", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", check_shape("ViTConfig", "input_shape", self.input_shape, ndim=3))
        check_fields(self, _VIT_CONSTRAINTS)
        _, h, w = self.input_shape
        if h % self.patch_size or w % self.patch_size:
            raise ParameterError("ViTConfig", "patch_size", f"must divide the image size {h}x{w}, got {self.patch_size}")
        if self.dim % self.heads:
            raise ParameterError("ViTConfig", "dim", f"must be divisible by heads ({self.heads}), got {self.dim}")

    @property
    def num_patches(self) -> int:
        return (self.input_shape[1] // self.patch_size) * (self.input_shape[2] // self.patch_size)

    @classmethod
    def cifar10(cls, **changes: Any) -> "ViTConfig":
        """Patch 4 on 32x32x3 (the seed study's ViT patch size), a ViT-Tiny-like width."""
        base = dict(input_shape=(3, 32, 32), patch_size=4, dim=192, depth=6, heads=3, mlp_dim=384)
        base.update(changes)
        return cls(**base)


class Attention(nn.Module):
    """Multi-head self-attention with explicit ``qkv`` and ``proj`` Linear layers."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        qkv = self.qkv(t).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, N, d_h)
        att = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t + self.attn(self.norm1(t))
        return t + self.mlp(self.norm2(t))


class ViT(BaselineClassifier):
    """See the module docstring; ``patch_embed``, ``blocks``, ``norm``, ``head``."""

    config_class = ViTConfig

    def __init__(self, config: ViTConfig):
        super().__init__(config)
        c, p, d = config.input_shape[0], config.patch_size, config.dim
        self.patch_embed = nn.Linear(c * p * p, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_patches + 1, d))
        self.blocks = nn.Sequential(*[Block(d, config.heads, config.mlp_dim) for _ in range(config.depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.num_classes)
        seeded_init(self, config.seed)
        # seed + 1 (not derive_seed): kept, since it fixes the initial class token and positions of
        # every ViT built from a seed (the compare recipes' ViT included)
        gen = torch.Generator().manual_seed(config.seed + 1)
        with torch.no_grad():  # small random class token and positions (std 0.02, as in ViT)
            self.cls_token.copy_(0.02 * torch.randn(self.cls_token.shape, generator=gen))
            self.pos_embed.copy_(0.02 * torch.randn(self.pos_embed.shape, generator=gen))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, C p^2), patches in row-major order."""
        b, c, h, w = x.shape
        p = self.config.patch_size
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, (h // p) * (w // p), c * p * p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch_embed(self.patches(x))
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        t = self.blocks(t)
        return self.head(self.norm(t[:, 0]))
