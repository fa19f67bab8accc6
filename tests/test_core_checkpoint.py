"""Checkpoints: round trip, integrity check, foreign and broken files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from analogeq.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from analogeq.models import build_model, model_kinds, register_model_kind


@pytest.mark.parametrize(
    "config",
    [
        {"kind": "dense_ebm", "hidden_sizes": [16, 8], "readout": "ce", "seed": 3},
        {"kind": "conv_ebm", "channels": [4, 8], "readout": "mse", "hidden_sizes": [12]},
    ],
)
def test_round_trip_gives_the_same_predictions(tmp_path, config):
    model = build_model(config)
    with torch.no_grad():  # move away from the initialisation so that the weights matter
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    path = save_checkpoint(tmp_path / "sub" / "m.safetensors", model, {"dataset": "digits", "seed": 3, "accuracy": 0.5})
    loaded, meta = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert meta["dataset"] == "digits" and meta["accuracy"] == 0.5 and "torch" in meta["versions"]
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(loaded(x), model(x))
    for (n, a), (m, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert n == m and torch.equal(a, b)
    # atomic write: no temporary file left behind
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]


def _saved(tmp_path):
    model = build_model({"kind": "dense_ebm", "hidden_sizes": [8]})
    return save_checkpoint(tmp_path / "m.safetensors", model, {"dataset": "digits"})


def test_truncated_checkpoint(tmp_path):
    path = _saved(tmp_path)
    raw = path.read_bytes()
    for cut in (len(raw) - 10, 100, 5):
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match="not a readable safetensors file"):
            load_checkpoint(path)


def test_tampered_weights_and_metadata(tmp_path):
    path = _saved(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x40  # one bit of the last tensor's data
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="failed its integrity check"):
        load_checkpoint(path)
    # a header edit (same length, still valid JSON) is caught as well
    path = _saved(tmp_path)
    raw = path.read_bytes()
    assert b'\\"dataset\\": \\"digits\\"' in raw
    path.write_bytes(raw.replace(b'\\"dataset\\": \\"digits\\"', b'\\"dataset\\": \\"mnist_\\"'))
    with pytest.raises(CheckpointError, match="failed its integrity check"):
        load_checkpoint(path)


def test_foreign_and_missing_files(tmp_path):
    foreign = tmp_path / "f.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(CheckpointError, match="not an analogeq checkpoint"):
        load_checkpoint(foreign)
    junk = tmp_path / "j.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors")
    assert issubclass(CheckpointError, ValueError)


def test_metadata_must_be_json(tmp_path):
    model = build_model({"kind": "dense_ebm", "hidden_sizes": [4]})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "m.safetensors", model, {"accuracy": float("nan")})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "m.safetensors", model, {"x": object()})
    assert not (tmp_path / "m.safetensors").exists()


def test_registry(tmp_path):
    assert {"dense_ebm", "conv_ebm"} <= set(model_kinds())
    with pytest.raises(ValueError, match="unknown model kind 'mlp9'"):
        build_model({"kind": "mlp9"})
    with pytest.raises(ValueError, match="hidden_sizes"):
        build_model({"kind": "dense_ebm", "hidden_sizes": [0]})
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig

    register_model_kind("dense_ebm", DenseEBMConfig, DenseEBM)  # same classes: no-op
    with pytest.raises(ValueError, match="already registered"):
        register_model_kind("dense_ebm", DenseEBMConfig, torch.nn.Linear)
    config, meta, tensors = read_checkpoint(_saved(tmp_path))
    assert config["kind"] == "dense_ebm" and set(tensors) >= {"synapses.0.weight", "biases.0"}
    json.dumps(meta)


def test_nan_weights_are_never_saved_and_refused_on_load(tmp_path, monkeypatch):
    import analogeq.checkpoint as ckpt

    model = build_model({"kind": "dense_ebm", "hidden_sizes": [8]})
    with torch.no_grad():
        next(model.parameters())[0, :3] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite weights \(.*: 3 of \d+\); training diverged"):
        save_checkpoint(tmp_path / "nan.safetensors", model)
    assert not (tmp_path / "nan.safetensors").exists()
    # a file written by something else (intact digest, NaN inside) is refused on load, naming the tensor
    monkeypatch.setattr(ckpt, "_nonfinite_tensors", lambda tensors: "")
    path = save_checkpoint(tmp_path / "nan.safetensors", model)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=r"holds NaN or infinite weights \(.*: 3 of \d+\)"):
        load_checkpoint(path)
