"""Why do untargeted attacks miss the digits images only APGD-T breaks? (issue 15, L2 eps 1.0)

    python benchmarks/l2_untargeted_losses.py --json --checkpoint ebm.safetensors --images 7 10 17 27 61 66
    python benchmarks/l2_untargeted_losses.py --json --quick          # 2 images, small budgets

On the float substrate, each untargeted attack below runs on the given test images (default: the
ones APGD-T broke and every untargeted attack of the ``standard`` suite missed, 100 images, seed 0,
before NearestClassPGD joined it), and APGD-T (9 targets x 50 steps) as the reference. Keys:
``images``, ``labels``, ``clean_scores`` (the network's class scores: hard-sigmoid states),
``pre_activations`` (h_N of the output layer, which the straight-through attack gradient follows),
``attacks``: name -> {``broken``: 0/1 per image, ``predicted``, ``seconds``}, ``machine``.

The losses: PGD (L2, step 2.5 eps / steps, random start at a radius uniform in [0, eps]) with
cross-entropy, the margin -(z_y - max_{j != y} z_j), the log-sum-exp margin
T log sum_{j != y} exp(z_j / T) - z_y (T = 1 and 0.1) and cross-entropy of z / T (T = 0.1);
APGD-CE and APGD-DLR with restarts; NearestClassPGD. Every wrong class of these images scores
0 to within 2e-7 (its unit sits on the rail) at the clean input and over much of the ball, so a
loss of the scores barely moves whichever wrong class is closest, and its gradient mix (the
straight-through gradient of the pre-activations) does not depend on which one that is.
"""

from __future__ import annotations

import time

from common import bench_parser, emit, load_average, machine, parse_args

import torch

from analogeq.checkpoint import load_checkpoint
from analogeq.commands.robustness import train_default_ebm
from analogeq.contract import GradientSpec
from analogeq.data import load_dataset
from analogeq.ebm.settle import settle
from analogeq.robustness.attacks import APGD, PGD, APGDTargeted, NearestClassPGD
from analogeq.robustness.attacks.common import ascent_direction, make_generator, project, random_start
from analogeq.robustness.eot import loss_and_gradient
from analogeq.substrates import build_substrate

EPS = 1.0


def lse_margin(temperature: float):
    """T log sum_{j != y} exp(z_j / T) - z_y (to be maximised)."""
    def loss(z, y):
        other = z.clone()
        other.scatter_(1, y[:, None], -float("inf"))
        return temperature * torch.logsumexp(other / temperature, dim=1) - z.gather(1, y[:, None]).squeeze(1)
    return loss


def tempered_ce(temperature: float):
    return lambda z, y: torch.nn.functional.cross_entropy(z / temperature, y, reduction="none")


def pgd_with_loss(sub, x, y, loss, steps: int, restarts: int, seed: int = 0) -> torch.Tensor:
    """PGD-L2 as :class:`PGD` with any loss of (scores, labels); broken if any iterate of any
    restart is misclassified by the attack's forward pass or its last one by ``sub.logits``."""
    gen = make_generator(seed)
    broken = torch.zeros(len(y), dtype=torch.bool)
    for _ in range(restarts):
        xa = random_start(x, EPS, "l2", gen, "radius")
        for _ in range(steps):
            _, g, z = loss_and_gradient(sub, xa, lambda s: loss(s, y), GradientSpec(), 1)
            broken |= z.argmax(1) != y
            xa = project(xa + 2.5 * EPS / steps * ascent_direction(g, "l2"), x, EPS, "l2")
        broken |= sub.logits(xa).argmax(1) != y
    return broken


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="2 images, budgets / 5 (same keys)", seed=True,
                          threads_help="torch threads (default 1)")
    parser.add_argument("--checkpoint", default=None, help="the network (default: train the digits recipe)")
    parser.add_argument("--images", type=int, nargs="+", default=None, help="test image indices (default 7 10 17 27 61 66)")
    args = parse_args(parser, argv)
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        model, metadata = load_checkpoint(args.checkpoint)
        splits = load_dataset(metadata.get("dataset", "digits"), seed=int(metadata.get("split_seed", 0)))
    else:
        model, splits, _ = train_default_ebm(seed=args.seed, epochs=8 if args.quick else None)
    images = args.images or ([7, 10] if args.quick else [7, 10, 17, 27, 61, 66])
    idx = torch.tensor(images)
    x, y = splits.test.x[idx], splits.test.y[idx]
    sub = build_substrate("float", model)
    q = 5 if args.quick else 1
    with torch.no_grad():
        states = settle(model, x, max_steps=model.config.free_steps, tol=model.config.tol).states
        pre = model.all_synapses()[len(states) - 1](states[-2]) + model.biases[-1]
    runs = {
        f"apgd_t_9x{50 // q}": lambda: APGDTargeted(eps=EPS, norm="l2", steps=50 // q, targets=9, seed=args.seed)(sub, x, y).x_adv,
        f"pgd_margin_{100 // q}x10": lambda: PGD(eps=EPS, norm="l2", steps=100 // q, restarts=10, loss="margin", seed=args.seed)(sub, x, y).x_adv,
        f"pgd_ce_{100 // q}x10": lambda: PGD(eps=EPS, norm="l2", steps=100 // q, restarts=10, loss="ce", seed=args.seed)(sub, x, y).x_adv,
        f"apgd_ce_{100 // q}x5": lambda: APGD(eps=EPS, norm="l2", steps=100 // q, restarts=5, loss="ce", seed=args.seed)(sub, x, y).x_adv,
        f"apgd_dlr_{100 // q}x5": lambda: APGD(eps=EPS, norm="l2", steps=100 // q, restarts=5, loss="dlr", seed=args.seed)(sub, x, y).x_adv,
        f"pgd_lse_T1_{100 // q}x5": lambda: pgd_with_loss(sub, x, y, lse_margin(1.0), 100 // q, 5, args.seed),
        f"pgd_lse_T0.1_{100 // q}x5": lambda: pgd_with_loss(sub, x, y, lse_margin(0.1), 100 // q, 5, args.seed),
        f"pgd_ce_T0.1_{100 // q}x5": lambda: pgd_with_loss(sub, x, y, tempered_ce(0.1), 100 // q, 5, args.seed),
        **{f"nearest_class_pgd_{s // q}x1": (lambda s=s: NearestClassPGD(eps=EPS, norm="l2", steps=s // q, seed=args.seed)(sub, x, y).x_adv)
           for s in (20, 50)},
    }
    started, load_before = time.perf_counter(), load_average()
    attacks = {}
    for name, run in runs.items():
        t0 = time.perf_counter()
        out = run()
        broken = out if out.dtype == torch.bool else sub.logits(out).argmax(1) != y
        predicted = None if out.dtype == torch.bool else sub.logits(out).argmax(1).tolist()
        attacks[name] = {"broken": broken.int().tolist(), "n_broken": int(broken.sum()), "predicted": predicted,
                         "seconds": time.perf_counter() - t0}
    result = {
        "eps_l2": EPS, "images": images, "labels": y.tolist(),
        "clean_scores": sub.logits(x).tolist(), "pre_activations": pre.tolist(),
        "attacks": attacks, "seconds": time.perf_counter() - started,
        "machine": machine(("torch",), torch_threads=args.threads, load_before=load_before, load_after=load_average()),
    }
    emit(result, args, "\n".join(f"{k}: broke {v['n_broken']} of {len(images)} {v['broken']}" for k, v in attacks.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
