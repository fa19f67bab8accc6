"""Predictions independent of the batch (issue 15, item 3): ``predict(x[i:i+1]) == predict(x)[i]``
for every i of a batch mixing easy images and images on a decision boundary (bisected between two
test digits of different predicted classes), on each substrate kind listed in ``BUILDERS``.

The dense EBM's prediction stops each sample on its own residual; the batch-wide stop of the
training phases (``per_sample=False``) is the contrast: there a boundary image's class can
depend on its batchmates."""

from __future__ import annotations

import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.ebm.settle import settle
from analogeq.substrates import build_substrate
from analogeq.train import TrainConfig, train

#: substrate kind -> build(model) on a deterministic card (add "crossbar", "spiking", ... here)
BUILDERS = {
    "float": lambda model: build_substrate("float", model),
}


@pytest.fixture(scope="module")
def ebm_and_batch(digits_small):
    """A briefly trained 64-32-10 dense EBM and a batch: 12 easy test images, then 12 boundary
    images (bisected to 1e-4 in the mixing weight between two images of different classes)."""
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), free_steps=40, nudge_steps=8, tol=1e-4, seed=0))
    train(model, digits_small, TrainConfig(epochs=2, batch_size=32, beta=0.5, lr=(0.2, 0.1), seed=0), progress=False)
    model.eval()
    x = digits_small.test.x
    pred = model(x).argmax(1)
    boundary = []
    for i in range(40):
        a, b = x[i], x[i + 40]
        if pred[i] == pred[i + 40]:
            continue
        lo, hi = 0.0, 1.0  # class of a at lo, another class at hi
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            same = model(((1 - mid) * a + mid * b)[None]).argmax(1) == pred[i]
            lo, hi = (mid, hi) if bool(same) else (lo, mid)
        boundary += [(1 - lo) * a + lo * b, (1 - hi) * a + hi * b]
        if len(boundary) >= 12:
            break
    return model, torch.cat([x[80:92], torch.stack(boundary[:12])])


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_prediction_of_each_sample_does_not_depend_on_its_batch(kind, ebm_and_batch):
    model, x = ebm_and_batch
    sub = BUILDERS[kind](model)
    together = sub.predict(x).cpu()
    alone = torch.cat([sub.predict(x[i:i + 1]).cpu() for i in range(x.shape[0])])
    assert torch.equal(alone, together), (alone != together).nonzero().flatten().tolist()
    # and in another order, and in halves
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(sub.predict(x[perm]).cpu(), together[perm])
    assert torch.equal(torch.cat([sub.predict(x[:7]).cpu(), sub.predict(x[7:]).cpu()]), together)


def test_batch_wide_stop_settles_samples_further_than_their_own_residual(ebm_and_batch):
    """The contrast: under the batch-wide stop a sample keeps moving until the slowest one has
    settled, so its states depend on the batch; the per-sample settle gives each sample the
    states it reaches alone (up to rounding of the batched products)."""
    model, x = ebm_and_batch
    cfg = model.config
    with torch.no_grad():
        wide = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol, per_sample=False)
        own = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol, per_sample=True)
        alone = [settle(model, x[i:i + 1], max_steps=cfg.free_steps, tol=cfg.tol, per_sample=True) for i in range(len(x))]
    alone_states = [torch.cat([a.states[k] for a in alone]) for k in range(len(own.states))]
    for s_own, s_alone in zip(own.states, alone_states):
        assert torch.allclose(s_own, s_alone, atol=1e-5)
    steps_alone = torch.tensor([int(a.sample_steps[0]) for a in alone])
    assert torch.equal(own.sample_steps.cpu(), steps_alone)
    assert wide.steps == int(steps_alone.max()) and int(steps_alone.min()) < wide.steps
