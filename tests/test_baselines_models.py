"""Baseline models: the ClassifierModel convention, sizes matched to the EBMs, seeded configs
with JSON round trips, the ViT's attention and patches against torch's own operators, the
CIFAR-10 code path on tiny local files, bad input."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analogeq.baselines import (
    BASELINE_KINDS,
    BaselineTrainConfig,
    baseline_config,
    build_baseline,
    build_defence,
    parameter_count,
    train_baseline,
)
from analogeq.baselines.models import CNN, MLP, CNNConfig, MLPConfig, ViT, ViTConfig, VIBConfig
from analogeq.baselines.models.vit import Attention
from analogeq.checkpoint import load_checkpoint, save_checkpoint
from analogeq.contract import ClassifierModel, GradientSpec, weight_layers
from analogeq.data import load_dataset
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.models import build_model
from analogeq.substrates.float import FloatSubstrate


@pytest.mark.parametrize("kind", sorted(BASELINE_KINDS))
def test_every_kind_follows_the_classifier_convention(kind):
    model = build_baseline({"kind": kind}).eval()
    assert isinstance(model, ClassifierModel)
    x = torch.rand((5, *model.input_shape), generator=torch.Generator().manual_seed(0))
    z = model(x)
    assert z.shape == (5, model.num_classes)
    # one pass: every gradient mode is the plain forward
    for spec in (GradientSpec("full"), GradientSpec("implicit"), GradientSpec("truncated", 3)):
        torch.testing.assert_close(model.forward_for_attack(x, spec), z)
    substrate = FloatSubstrate(model)
    torch.testing.assert_close(substrate.logits(x), z)
    assert substrate.describe()["model_config"]["kind"] == kind


@pytest.mark.parametrize("kind", sorted(BASELINE_KINDS))
def test_config_round_trip_and_seeded_weights(kind):
    a = build_baseline({"kind": kind, "seed": 3})
    d = json.loads(json.dumps(a.config.to_dict()))
    b = build_baseline(d)
    assert b.config == a.config
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(pa, pb)
    c = build_baseline({"kind": kind, "seed": 4})
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_mlp_matches_the_dense_ebm_size():
    mlp = MLP(MLPConfig())
    # 64-256-10 with biases: 64*256 + 256 + 256*10 + 10
    assert parameter_count(mlp) == 64 * 256 + 256 + 256 * 10 + 10 == 19210
    ebm = DenseEBM(DenseEBMConfig())
    assert parameter_count(mlp) == sum(p.numel() for p in ebm.parameters())


def test_cnn_has_the_conv_ebm_layer_shapes():
    cnn = CNN(CNNConfig())
    shapes = [tuple(m.weight.shape) for _, m in weight_layers(cnn)]
    assert shapes == [(16, 1, 3, 3), (32, 16, 3, 3), (10, 128)]
    assert parameter_count(cnn) == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 128 * 10 + 10


def test_small_models_are_of_the_ebm_size():
    sizes = {kind: parameter_count(build_baseline({"kind": kind})) for kind in ("mlp", "vit", "vib_mlp")}
    assert all(0.8 * 19210 <= n <= 1.05 * 19210 for n in sizes.values()), sizes


def test_mapped_layers_are_every_linear_and_conv():
    vit = ViT(ViTConfig(depth=2))
    names = [n for n, _ in weight_layers(vit)]
    # patch embedding, per block qkv + proj + two MLP layers, head
    assert len(names) == 1 + 2 * 4 + 1
    assert names[0] == "patch_embed" and names[-1] == "head"
    n_weights = sum(m.weight.numel() + m.bias.numel() for _, m in weight_layers(vit))
    others = sum(p.numel() for n, p in vit.named_parameters() if "norm" in n or n in ("cls_token", "pos_embed"))
    assert n_weights + others == parameter_count(vit)


def test_vit_attention_matches_torch_scaled_dot_product():
    torch.manual_seed(0)
    att = Attention(dim=12, heads=3)
    t = torch.randn(4, 7, 12)
    q, k, v = att.qkv(t).chunk(3, dim=-1)
    split = lambda a: a.reshape(4, 7, 3, 4).transpose(1, 2)  # noqa: E731
    ref = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(4, 7, 12)
    torch.testing.assert_close(att(t), att.proj(ref), rtol=1e-5, atol=1e-6)


def test_vit_patches_match_unfold():
    vit = ViT(ViTConfig.cifar10(dim=12, depth=1, heads=3, mlp_dim=8))
    x = torch.rand(2, 3, 32, 32)
    ref = F.unfold(x, kernel_size=4, stride=4).transpose(1, 2)  # (B, 64, 48), row-major patches
    torch.testing.assert_close(vit.patches(x), ref)
    assert vit(x).shape == (2, 10)


def _write_fake_cifar10(root, n_per_batch=20, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    def dump(name, n):
        labels = [i % 10 for i in range(n)]
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        # a class-dependent bright square makes the classes learnable
        for i, lab in enumerate(labels):
            img = data[i].reshape(3, 32, 32)
            img[:, 3 * lab:3 * lab + 3, :] = 255
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": labels}, fh)
    for i in range(1, 6):
        dump(f"data_batch_{i}", n_per_batch)
    dump("test_batch", n_test)


@pytest.mark.parametrize("kind", ["cnn", "vit"])
def test_cifar10_code_path_from_local_files(tmp_path, kind):
    _write_fake_cifar10(tmp_path)
    data = load_dataset("cifar10", root=tmp_path)
    assert data.input_shape == (3, 32, 32)
    config = (CNNConfig.cifar10(channels=(8, 8, 8, 8)) if kind == "cnn"
              else ViTConfig.cifar10(dim=16, depth=1, heads=2, mlp_dim=16))
    assert config.input_shape == (3, 32, 32)
    model = build_baseline(config)
    result = train_baseline(model, data.train, build_defence("pgd_at", eps=8 / 255, steps=2),
                            BaselineTrainConfig(epochs=1, batch_size=32), val=data.val)
    assert len(result.history) == 1 and math.isfinite(result.history[0]["loss"])
    assert 0.0 <= result.history[0]["val_accuracy"] <= 1.0


def test_cifar10_shapes_of_the_seed_study():
    cnn = CNNConfig.cifar10()
    assert cnn.channels == (128, 256, 512, 512) and cnn.paddings == (1, 1, 1, 0)
    assert cnn.feature_shape() == (512, 1, 1)
    assert ViTConfig.cifar10().patch_size == 4 and ViTConfig.cifar10().num_patches == 64


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, exc, match", [
    (lambda: build_baseline({"kind": "resnet"}), ValueError, "unknown baseline model kind 'resnet'"),
    (lambda: build_baseline({"hidden_sizes": [3]}), ValueError, "unknown baseline model kind None"),
    (lambda: baseline_config("transformer"), ValueError, "unknown baseline model kind"),
    (lambda: build_baseline(42), TypeError, "config must be"),
    (lambda: MLPConfig.from_dict({"kind": "cnn"}), ValueError, "config kind must be 'mlp'"),
    (lambda: MLPConfig.from_dict({"width": 3}), ValueError, r"unknown MLPConfig field\(s\) \['width'\]"),
    (lambda: MLPConfig(hidden_sizes=(0,)), ValueError, "MLPConfig.hidden_sizes"),
    (lambda: MLPConfig(num_classes=1), ValueError, "MLPConfig.num_classes"),
    (lambda: MLPConfig(activation="tanh"), ValueError, "MLPConfig.activation"),
    (lambda: CNNConfig(input_shape=(8, 8)), ValueError, "CNNConfig.input_shape"),
    (lambda: CNNConfig(kernel_sizes=(3,)), ValueError, "CNNConfig.kernel_sizes"),
    (lambda: CNNConfig(channels=(4, 4, 4, 4)), ValueError, r"CNNConfig: conv layer 3: kernel 3, padding 1, pool 2 do not fit its 1x1 input"),
    (lambda: ViTConfig(patch_size=3), ValueError, "ViTConfig.patch_size: must divide"),
    (lambda: ViTConfig(dim=30, heads=4), ValueError, "ViTConfig.dim: must be divisible"),
    (lambda: ViTConfig(depth=0), ValueError, "ViTConfig.depth"),
    (lambda: VIBConfig(latent_dim=0), ValueError, "VIBConfig.latent_dim"),
])
def test_bad_model_configs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_model_rejects_wrong_config_type():
    with pytest.raises(TypeError, match="MLPConfig"):
        MLP(CNNConfig())


@pytest.mark.parametrize("kind", sorted(BASELINE_KINDS))
def test_checkpoints_load_through_the_core_registry(tmp_path, kind):
    model = build_baseline({"kind": kind, "seed": 7}).eval()
    assert type(build_model({"kind": kind})) is type(model)
    path = save_checkpoint(tmp_path / f"{kind}.safetensors", model, {"defence": {"defence": "standard"}})
    loaded, metadata = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.rand((3, *model.input_shape))
    torch.testing.assert_close(loaded(x), model(x))
    assert metadata["defence"] == {"defence": "standard"}
