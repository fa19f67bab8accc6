"""The evaluation registry: evaluations known by name (built in, registered, installed plugins
through entry points), one clear line for an unknown or broken one."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from fixtures_sweeps import load_spec_text, spec_error, spec_toml, sweep_rows

from analogeq.sweeps import ENTRY_POINT_GROUP, evaluation_names, get_evaluation, register_evaluation
from analogeq.sweeps import evaluations as registry

BUILT_IN = ["clean_accuracy", "conductance_error", "crossbar_read_error", "robust_accuracy"]


@pytest.fixture()
def plugins(monkeypatch):
    """Stand-in installed entry points (name -> "module:attr"); the registry is restored afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    installed: dict[str, str] = {}
    monkeypatch.setattr(registry, "plugin_entry_points", lambda: {
        name: metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP) for name, value in installed.items()
    })
    return installed


def _plugin_spec(name: str = "test_plugin") -> str:
    return spec_toml("plug", seeds="[1, 3]", card="ideal", evaluations=f"[evaluations.{name}]\nscale = 5")


def test_built_in_evaluations_are_registered_by_name():
    assert set(BUILT_IN) <= set(evaluation_names())
    ev = get_evaluation("crossbar_read_error")
    assert ev.name == "crossbar_read_error" and not ev.uses_substrate
    assert get_evaluation("clean_accuracy").needs_network


def test_unknown_name_is_one_line_listing_the_registered_names():
    with pytest.raises(ValueError) as info:
        get_evaluation("conductance_eror")
    message = str(info.value)
    assert message.startswith("unknown evaluation 'conductance_eror'; registered: [")
    assert all(repr(name) in message for name in BUILT_IN)
    assert ENTRY_POINT_GROUP in message and "\n" not in message


def test_a_plugin_entry_point_is_loaded_by_name_and_runs(tmp_path, plugins):
    plugins["test_plugin"] = "fixtures_sweeps:plugin_evaluation"
    assert "test_plugin" in evaluation_names()
    rows = sweep_rows(tmp_path, _plugin_spec())
    assert sorted(r["metrics"]["value"] for r in rows) == [5.0, 15.0]
    assert get_evaluation("test_plugin").metrics == ("value",)
    # its parameters are validated like a built-in's
    message = spec_error(tmp_path, _plugin_spec().replace("scale = 5", "scale = 0"))
    assert "evaluations.test_plugin.scale: must be an integer >= 1, got 0" in message


@pytest.mark.parametrize(
    "value, match",
    [
        ("no_such_module_xyz:thing", r"evaluation 'test_plugin': its plugin entry point 'no_such_module_xyz:thing' "
                                     r"\(group 'analogeq.sweep_evaluations'\) failed to load: ModuleNotFoundError"),
        ("fixtures_sweeps:spec_toml", r"evaluation 'test_plugin': its plugin entry point .* failed to load: TypeError"),
        ("fixtures_sweeps:ok_metrics", r"failed to load"),
    ],
)
def test_a_broken_plugin_is_one_line_naming_it(tmp_path, plugins, value, match):
    plugins["test_plugin"] = value
    message = spec_error(tmp_path, _plugin_spec())
    assert "evaluations.test_plugin: " in message and "\n" not in message
    assert re.search(match, message), message


def test_a_plugin_must_return_the_evaluation_of_its_name(tmp_path, plugins):
    plugins["other_name"] = "fixtures_sweeps:plugin_evaluation"
    message = spec_error(tmp_path, _plugin_spec("other_name"))
    assert ("its plugin entry point 'fixtures_sweeps:plugin_evaluation' must return an Evaluation "
            "named 'other_name'") in message


def test_an_evaluation_registered_in_process_is_found_by_name(tmp_path, plugins):
    register_evaluation("test_local", lambda ctx: {"value": 1.0})
    spec = load_spec_text(tmp_path, spec_toml("local", card="ideal", evaluations="[evaluations.test_local]"))
    assert spec.n_points() == 1


@pytest.mark.parametrize("bad, match", [
    (dict(name="has space"), "evaluation name must be letters, digits and underscores"),
    (dict(name="net_only", needs_network=True), "a network evaluation runs on a substrate"),
])
def test_bad_registrations_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        register_evaluation(fn=lambda ctx: {}, **bad)
