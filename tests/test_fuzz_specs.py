"""Property tests (hypothesis) of sweep specs: one mutated key of a valid spec is either accepted
(within the point limit, seeds storable in SQLite, canonical form read back equal) or refused
with a SpecError on one line naming that key."""

from __future__ import annotations

import copy
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analogeq.sweeps.spec import DEFAULT_POINT_LIMIT, SpecError, load_spec, spec_from_dict  # noqa: E402

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASE = {
    "name": "fuzz",
    "card": {"preset": "ideal"},
    "axes": {"device.read_noise_scale": [0.0, 1.0], "drift_time_s": {"start": 1.0, "stop": 100.0, "num": 2}},
    "evaluations": {"conductance_error": {"n_cells": 16}},
    "seeds": [0, 1],
}

SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([10**400, 2**63, 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.text(max_size=12),
)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=8)
RANGES = st.fixed_dictionaries({"start": SCALARS, "stop": SCALARS, "num": st.integers(-2, 10**12)})
# (top-level key, where the value goes)
TARGETS = [("seeds", ()), ("axes", ("device.read_noise_scale",)), ("axes", ("drift_time_s",)), ("axes", ("adc.bits",)),
           ("evaluations", ("conductance_error", "n_cells")), ("evaluations", ("conductance_error",)),
           ("card", ("preset",)), ("name", ()), ("substrates", ()), ("network", ()), ("description", ())]


def _spec_with(top, inner, value):
    data = copy.deepcopy(BASE)
    if not inner:
        data[top] = value
        return data
    node = data.setdefault(top, {})
    for key in inner[:-1]:
        node = node[key]
    node[inner[-1]] = value
    return data


def _check(data, top):
    try:
        spec = spec_from_dict(data)
    except SpecError as err:
        text = str(err)
        assert "\n" not in text and len(text) <= 400, text
        assert top in text, (top, text)  # the key is named
        return None
    assert spec.n_points() <= DEFAULT_POINT_LIMIT
    assert all(0 <= s < 2**63 for s in spec.seeds)
    assert spec_from_dict(spec.to_dict()) == spec
    return spec


@FAST
@given(target=st.sampled_from(TARGETS), value=st.one_of(JSONISH, RANGES))
def test_one_mutated_key_is_accepted_within_limits_or_named(target, value):
    top, inner = target
    _check(_spec_with(top, inner, value), top)


@FAST
@given(nums=st.lists(st.integers(2, 10**6), min_size=1, max_size=4), seeds=st.integers(1, 5000))
def test_big_grids_are_refused_before_expansion_with_the_count(nums, seeds):
    from analogeq.sweeps.spec_limits import MAX_AXIS_VALUES

    names = ["read_noise_scale", "drift_scale", "programming_noise_scale", "no_such_field"]
    axes = {f"device.{name}": {"start": 0.0, "stop": 1.0, "num": n} for name, n in zip(names, nums)}
    data = {**copy.deepcopy(BASE), "axes": axes, "seeds": {"start": 0, "count": seeds}}
    total = seeds
    for n in nums:
        total *= n
    t0 = time.perf_counter()
    if total > DEFAULT_POINT_LIMIT or max(nums) > MAX_AXIS_VALUES:
        with pytest.raises(SpecError) as info:
            spec_from_dict(data)
        assert f"{total:,} points" in str(info.value) or "values; an axis has at most" in str(info.value)
    elif len(nums) == 4:
        with pytest.raises(SpecError, match="no_such_field"):
            spec_from_dict(data)
    else:
        assert spec_from_dict(data).n_points() == total
    assert time.perf_counter() - t0 < 30.0  # refused or checked without building every point (10^6+ points would take minutes)


@FAST
@given(raw=st.binary(min_size=0, max_size=200))
def test_any_bytes_as_a_spec_file_name_the_file(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    path.write_bytes(raw)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
