"""Square attack (Andriushchenko et al. 2020, "Square Attack: a query-efficient black-box
adversarial attack via random search"): score-based, it uses only ``substrate.logits``.

Random search on the margin loss m(x) = z_y - max_{i != y} z_i (an example stops as soon as
m < 0). Each iteration proposes a change confined to one random square window of side
s = round(sqrt(p * H * W)) and keeps it if the margin falls. The fraction p starts at
``p_init`` (0.8) and is halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of a
10000-query schedule rescaled to the budget (the paper's schedule).

* L_inf: start from vertical stripes of +-eps (one sign per column and channel); a proposal sets
  the window, per channel, to x +- eps.
* L2: start from a grid of pseudo-Gaussian bumps with random signs scaled to norm eps; a
  proposal moves the perturbation mass of a second random window into the first one, as a
  new +- bump pattern added to the window's normalised old content, so that ||d||_2 stays eps.

Every proposal is clipped to [0, 1] and stays in the ball. ``queries`` counts forward calls per
example, the initial point included. On a stochastic substrate each score is the mean of
``score_draws`` calls of ``logits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from analogeq.robustness.attacks.common import EPS, NORM, Attack, AttackResult, finish, margin, mean_logits
from analogeq.substrates.base import Substrate
from hardware_models.params import Integer, Real

_HALVING_POINTS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def fraction_schedule(p_init: float, iteration: int, total: int) -> float:
    """p at ``iteration`` of ``total``: p_init halved at each point of the 10000-step schedule passed."""
    scaled = int(iteration / total * 10000)
    halvings = sum(1 for point in _HALVING_POINTS if scaled > point)
    return p_init / (2 ** halvings)


def pseudo_gaussian_rectangle(rows: int, cols: int) -> torch.Tensor:
    """Concentric-rectangle bump of unit L2 norm: a pixel at Chebyshev distance d from the
    centre (rows//2, cols//2) gets sum_{k=d}^{K-1} 1/(k+1)^2 with K = max(rows, cols)//2 + 1."""
    if rows == 0 or cols == 0:
        return torch.zeros(rows, cols)
    k_max = max(rows // 2, cols // 2) + 1
    i = torch.arange(rows).reshape(-1, 1)
    j = torch.arange(cols).reshape(1, -1)
    dist = torch.maximum((i - rows // 2).abs(), (j - cols // 2).abs())
    weights = torch.tensor([1.0 / (k + 1) ** 2 for k in range(k_max)])
    tail = weights.flip(0).cumsum(0).flip(0)  # tail[d] = sum_{k >= d} weights[k]
    bump = tail[dist.clamp(max=k_max - 1)]
    return bump / bump.norm()


def square_pattern(side: int, gen: torch.Generator) -> torch.Tensor:
    """Two opposite-sign bumps (upper half +, lower half -), unit L2 norm, transposed with
    probability 1/2."""
    pattern = torch.zeros(side, side)
    half = side // 2
    pattern[:half] = pseudo_gaussian_rectangle(half, side)
    pattern[half:] = -pseudo_gaussian_rectangle(side - half, side)
    pattern = pattern / pattern.norm()
    if float(torch.rand((), generator=gen)) > 0.5:
        pattern = pattern.t()
    return pattern


@dataclass(frozen=True)
class Square(Attack):
    """Square attack; black box (no gradient, no GradientSpec)."""

    eps: float
    norm: str = "linf"
    queries: int = 1000
    p_init: float = 0.8
    score_draws: int = 1
    seed: int = 0

    name = "square"
    constraints = {"eps": EPS, "norm": NORM, "queries": Integer(minimum=1),
                   "p_init": Real(minimum=0.0, maximum=1.0, exclusive_minimum=True),
                   "score_draws": Integer(minimum=1), "seed": Integer(minimum=0)}

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started, x, y, gen = self.begin(substrate, x, y)
        if x.dim() != 4:
            raise ValueError(
                f"Square needs image inputs of shape (C, H, W), the substrate's input_shape is {tuple(substrate.input_shape)}"
            )
        batch, channels, height, width = x.shape
        if min(height, width) < 2:
            raise ValueError(f"Square needs images at least 2x2, got {height}x{width}")
        device = x.device

        def score(points, labels):
            return margin(mean_logits(substrate, points, self.score_draws), labels)

        def cpu_signs(shape):
            return (torch.randint(0, 2, shape, generator=gen).float() * 2.0 - 1.0).to(device)

        if self.norm == "linf":
            x_best = (x + self.eps * cpu_signs((batch, channels, 1, width))).clamp(0.0, 1.0)
        else:
            x_best = self._l2_init(x, gen)
        margin_best = score(x_best, y)
        queries_used = torch.ones(batch, dtype=torch.long, device=device)
        for it in range(self.queries - 1):
            todo = (margin_best >= 0).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            xc, xb = x[todo], x_best[todo]
            p = fraction_schedule(self.p_init, it, self.queries)
            if self.norm == "linf":
                proposal = self._linf_proposal(xc, xb, p, gen, cpu_signs)
            else:
                proposal = self._l2_proposal(xc, xb, p, gen, cpu_signs)
            new_margin = score(proposal, y[todo])
            queries_used[todo] += 1
            better = new_margin < margin_best[todo]
            x_best[todo[better]] = proposal[better]
            margin_best[todo[better]] = new_margin[better]

        fooled = margin_best < 0
        extra = {
            "queries_mean": float(queries_used.float().mean()),
            "queries_median_successful": float(queries_used[fooled].float().median()) if bool(fooled.any()) else None,
        }
        return finish(self.name, self, substrate, x, y, x_best, self.norm, started,
                      check_draws=self.score_draws, extra=extra)

    # ------------------------------------------------------------------ L_inf
    @staticmethod
    def _side(p: float, height: int, width: int, minimum: int = 1) -> int:
        """Window side round(sqrt(p H W)), at least ``minimum``, smaller than the image."""
        side = int(round(math.sqrt(p * height * width)))
        return min(max(side, minimum), min(height, width) - 1)

    @staticmethod
    def _corner(side: int, height: int, width: int, gen: torch.Generator) -> tuple[int, int]:
        top = int(torch.randint(0, height - side + 1, (), generator=gen))
        left = int(torch.randint(0, width - side + 1, (), generator=gen))
        return top, left

    def _linf_proposal(self, xc, xb, p, gen, cpu_signs):
        b, c, h, w = xc.shape
        side = self._side(p, h, w)
        top, left = self._corner(side, h, w, gen)
        delta = xb - xc
        window = (slice(None), slice(None), slice(top, top + side), slice(left, left + side))
        new_window = self.eps * cpu_signs((b, c, 1, 1))
        # a proposal that leaves the window unchanged (same signs, or clipped to the same pixels)
        # wastes a query: redraw those few times
        for _ in range(10):
            same = ((xc[window] + new_window).clamp(0.0, 1.0) - xb[window]).abs().reshape(b, -1).amax(dim=1) < 1e-7
            if not bool(same.any()):
                break
            new_window = torch.where(same.reshape(-1, 1, 1, 1), self.eps * cpu_signs((b, c, 1, 1)), new_window)
        delta[window] = new_window.expand(b, c, side, side)
        return (xc + delta).clamp(0.0, 1.0)

    # ------------------------------------------------------------------ L2
    def _l2_init(self, x, gen):
        b, c, h, w = x.shape
        side = max(min(h, w) // 5, 1)
        n_h, n_w = h // side, w // side
        off_h, off_w = (h - n_h * side) // 2, (w - n_w * side) // 2
        delta = torch.zeros(b, c, h, w)
        for i in range(n_h):
            for j in range(n_w):
                signs = torch.randint(0, 2, (b, c, 1, 1), generator=gen).float() * 2.0 - 1.0
                r, q = off_h + i * side, off_w + j * side
                delta[:, :, r:r + side, q:q + side] += square_pattern(side, gen).reshape(1, 1, side, side) * signs
        delta = delta.to(x.device)
        norms = delta.reshape(b, -1).norm(dim=1).reshape(-1, 1, 1, 1)
        return (x + delta / (norms + 1e-12) * self.eps).clamp(0.0, 1.0)

    def _l2_proposal(self, xc, xb, p, gen, cpu_signs):
        b, c, h, w = xc.shape
        side = self._side(p, h, w, minimum=3 if min(h, w) > 3 else 1)
        top, left = self._corner(side, h, w, gen)
        top2, left2 = self._corner(side, h, w, gen)
        win1 = (slice(None), slice(None), slice(top, top + side), slice(left, left + side))
        win2 = (slice(None), slice(None), slice(top2, top2 + side), slice(left2, left2 + side))
        delta = xb - xc
        mask1 = torch.zeros_like(delta)
        mask1[win1] = 1.0
        mask_both = mask1.clone()
        mask_both[win2] = 1.0
        norm_window1 = (delta * mask1).pow(2).sum(dim=(2, 3), keepdim=True).sqrt()
        norm_image = delta.reshape(b, -1).norm(dim=1).reshape(-1, 1, 1, 1)
        norm_both = (delta * mask_both).pow(2).sum(dim=(2, 3), keepdim=True).sqrt()
        # the mass that can go into window 1: what windows 1 and 2 hold plus what the image
        # still lacks to reach eps, shared over the channels
        budget = ((self.eps ** 2 - norm_image ** 2).clamp(min=0.0) / c + norm_both ** 2).sqrt()
        bump = square_pattern(side, gen).to(xc.device).reshape(1, 1, side, side) * cpu_signs((b, c, 1, 1))
        new = bump + delta[win1] / (norm_window1 + 1e-10)
        new = new / (new.pow(2).sum(dim=(2, 3), keepdim=True).sqrt() + 1e-12) * budget
        delta[win2] = 0.0
        delta[win1] = new
        norms = delta.reshape(b, -1).norm(dim=1).reshape(-1, 1, 1, 1)
        return (xc + delta / (norms + 1e-12) * self.eps).clamp(0.0, 1.0)
