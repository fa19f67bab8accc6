"""Property tests (hypothesis) of checkpoints and the command line: a checkpoint with any config,
metadata or header bytes loads only when it is intact, else a CheckpointError on one line naming
the file; a command line with any --set override exits 0 or 2 with one line, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from safetensors.torch import load as st_load  # noqa: E402
from safetensors.torch import save as st_save  # noqa: E402

from analogeq import cli  # noqa: E402
from analogeq.checkpoint import CheckpointError, _digest, load_checkpoint, save_checkpoint  # noqa: E402
from analogeq.models import build_model  # noqa: E402

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SCALARS = st.one_of(st.integers(min_value=-(2**70), max_value=10**12), st.floats(), st.booleans(), st.none(),
                    st.text(max_size=8), st.sampled_from([10**400, 10**8, [10**8], [0], [-1]]))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = save_checkpoint(tmp_path_factory.mktemp("ck") / "m.safetensors",
                           build_model({"kind": "dense_ebm", "hidden_sizes": [8]}), {"dataset": "digits", "seed": 0})
    raw = path.read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
    return path, raw, header, st_load(raw)


def _one_line_naming(err: Exception, path) -> None:
    assert "\n" not in str(err) and str(path) in str(err) and len(str(err)) <= 400, str(err)


@FAST
@given(key=st.sampled_from(["hidden_sizes", "seed", "free_steps", "input_shape", "num_classes", "kind", "readout",
                            "step_size", "new_field"]), value=SCALARS)
def test_any_model_config_value_loads_only_if_the_weights_fit(saved, tmp_path_factory, key, value):
    path, _, header, tensors = saved
    config = {**json.loads(header["model_config"]), key: value}
    try:
        config_text = json.dumps(config)
    except (ValueError, OverflowError):
        return
    meta_text = header["metadata"]
    out = tmp_path_factory.mktemp("edit") / "edited.safetensors"
    out.write_bytes(st_save(tensors, metadata={**header, "model_config": config_text,
                                               "sha256": _digest(config_text, meta_text, tensors)}))
    try:
        model, _ = load_checkpoint(out)
    except CheckpointError as err:
        _one_line_naming(err, out)
        return
    for name, t in model.state_dict().items():  # loaded: the file's weights, exactly
        assert t.shape == tensors[name].shape


@FAST
@given(text=st.text(max_size=40) | st.sampled_from(['{"seed": NaN}', '{"a": Infinity}', "[1]", "null", '{"a": 1}']))
def test_any_metadata_text_is_read_as_strict_json_or_named(saved, tmp_path_factory, text):
    path, _, header, tensors = saved
    out = tmp_path_factory.mktemp("meta") / "edited.safetensors"
    out.write_bytes(st_save(tensors, metadata={**header, "metadata": text,
                                               "sha256": _digest(header["model_config"], text, tensors)}))
    try:
        _, metadata = load_checkpoint(out)
    except CheckpointError as err:
        _one_line_naming(err, out)
        return
    assert isinstance(metadata, dict) and json.loads(text) == metadata  # strict JSON object


@FAST
@given(data=st.data())
def test_corrupted_checkpoint_bytes_never_load_silently(saved, tmp_path_factory, data):
    path, raw, _, _ = saved
    pos = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255))
    corrupted = raw[:pos] + bytes([byte]) + raw[pos + 1:]
    out = tmp_path_factory.mktemp("bytes") / "c.safetensors"
    out.write_bytes(corrupted[: data.draw(st.integers(0, len(corrupted)))] if data.draw(st.booleans()) else corrupted)
    try:
        load_checkpoint(out)
    except CheckpointError as err:
        _one_line_naming(err, out)
        return
    assert out.read_bytes() == raw or corrupted[pos] == raw[pos] or raw[pos:pos + 1] in b" \t"  # only a no-op edit loads


def _cli(argv):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse usage error
            code = exc.code
    return code, err.getvalue()


FIELDS = ["adc.bits", "dac.bits", "device.g_max_S", "device.read_noise_scale", "tile.max_rows", "faults.stuck_at_gmin_rate",
          "timing.t_read_s", "name", "update", "levels.n_levels", "device.prog_noise_coeffs.0", "nosuch", "adc", ""]


@FAST
@given(field=st.sampled_from(FIELDS) | st.text(max_size=12),
       value=st.sampled_from(["4", "x", "1e400", "-1", "null", "[1, 2]", "nan", "1e308", "{}", '"s"', "0.5", ""])
       | st.text(max_size=12))
def test_any_set_override_exits_0_or_2_with_one_line(field, value):
    code, err = _cli(["cards", "show", "pcm", "--set", f"{field}={value}"])
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert code in (0, 2), err
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("analogeq"), err
