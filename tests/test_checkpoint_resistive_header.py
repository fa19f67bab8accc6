"""Issue 17 item 3 on the resistive path: a ``resistive_drn`` checkpoint whose config claims
10^8 hidden nodes is refused from the file's header, before any conductance matrix is built
(the model holds numpy buffers, which torch's meta device does not cover)."""

from __future__ import annotations

import json
import resource

import pytest
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from analogeq.checkpoint import CheckpointError, _digest, load_checkpoint, save_checkpoint
from analogeq.models import build_model, config_from_dict
from analogeq.substrates.resistive import drn

SMALL = {"kind": "resistive_drn", "input_shape": [1, 4, 4], "hidden_sizes": [6], "num_classes": 3}


def _with_config(tmp_path, **changes):
    """A small resistive checkpoint whose model_config is edited (with a matching digest)."""
    path = save_checkpoint(tmp_path / "r.safetensors", build_model(SMALL))
    raw = path.read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
    tensors = st_load(raw)
    config_text = json.dumps({**json.loads(header["model_config"]), **changes})
    header.update(model_config=config_text, sha256=_digest(config_text, header["metadata"], tensors))
    out = tmp_path / "edited.safetensors"
    out.write_bytes(st_save(tensors, metadata=header))
    return out


def test_huge_resistive_config_is_refused_from_the_header_without_building_the_model(tmp_path, monkeypatch):
    path = _with_config(tmp_path, hidden_sizes=[10**8])

    def never(*args, **kwargs):
        raise AssertionError("the conductance matrices were built before the shapes were compared")

    monkeypatch.setattr(drn.ResistiveNetwork, "random", staticmethod(never))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # Linux: kB
    text = str(info.value)
    assert str(path) in text and "100000000" in text and "\n" not in text
    assert grown_mb < 200  # 32 x 10^8 float64 conductances would be 25.6 GB


@pytest.mark.parametrize("config", [
    SMALL,
    {**SMALL, "hidden_sizes": [5, 7], "bias": False},
    {**SMALL, "input_shape": [10], "hidden_sizes": [3, 4, 2]},
])
def test_state_shapes_are_those_of_the_built_model(config):
    model = build_model(config)
    built = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert config_from_dict(config).state_shapes() == built


def test_a_resistive_checkpoint_still_loads_and_a_layer_count_change_is_refused(tmp_path):
    model = build_model(SMALL)
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "ok.safetensors", model))
    for k, v in model.state_dict().items():
        assert loaded.state_dict()[k].equal(v)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_checkpoint(_with_config(tmp_path, hidden_sizes=[6, 6]))
