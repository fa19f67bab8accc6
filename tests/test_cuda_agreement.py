"""CPU vs CUDA agreement (run by benchmarks/gpu.sh; skipped, with the reason, without a GPU).

Float logits, a crossbar read on the ideal card, and one EqProp step give the same numbers on
the GPU as on the CPU (to float32 summation order), and a settle keeps its states on the device.
"""

from __future__ import annotations

import pytest
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates import build_substrate
from analogeq.train.eqprop import eqprop_gradients

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with a CUDA build of torch "
                                                              "(benchmarks/gpu.sh runs these there)"),
]

TOL = 1e-4


def _models():
    dense = DenseEBM(DenseEBMConfig(input_shape=(1, 8, 8), hidden_sizes=(32,), free_steps=40, tol=0.0, seed=3))
    conv = ConvEBM(ConvEBMConfig(input_shape=(3, 8, 8), channels=(4, 8), free_steps=30, tol=0.0, seed=1))
    return {"dense": dense.eval(), "conv": conv.eval()}


def _x(shape, n=6, seed=2):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ["dense", "conv"])
@pytest.mark.parametrize("kind, options", [("float", {}), ("crossbar", {"card": "ideal", "seed": 0})])
def test_logits_agree_between_cpu_and_cuda(name, kind, options):
    model = _models()[name]
    x = _x(model.config.input_shape)
    cpu = build_substrate(kind, model, device="cpu", **options).logits(x)
    gpu_substrate = build_substrate(kind, model, device="cuda", **options)
    gpu = gpu_substrate.logits(x.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=TOL, rtol=0)


def test_eqprop_step_agrees_between_cpu_and_cuda():
    model = _models()["conv"].train()
    x, y = _x(model.config.input_shape), torch.arange(6) % 10
    eqprop_gradients(model, x, y, beta=0.5)
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    model.cuda()
    eqprop_gradients(model, x.cuda(), y.cuda(), beta=0.5)
    for n, p in model.named_parameters():
        assert p.grad.device.type == "cuda"
        torch.testing.assert_close(p.grad.cpu(), want[n], atol=TOL, rtol=1e-3, msg=n)
