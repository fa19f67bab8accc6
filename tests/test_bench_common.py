"""The benchmarks' shared helpers (benchmarks/common.py) and the key-path check (check_keys.py)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load("common")
check_keys = _load("check_keys")


def test_parser_has_the_shared_options_and_refuses_zero_threads(capsys):
    parser = common.bench_parser("Title line.\n\nMore.", quick_help="q", threads_help="t", seed=True)
    args = common.parse_args(parser, ["--json", "--quick", "--threads", "2", "--seed", "3", "--output", "x.json"])
    assert (args.json, args.quick, args.threads, args.seed, args.output) == (True, True, 2, 3, "x.json")
    with pytest.raises(SystemExit) as exc:
        common.parse_args(parser, ["--threads", "0"])
    assert exc.value.code == 2
    assert "--threads must be >= 1" in capsys.readouterr().err
    bare = common.parse_args(common.bench_parser("T.", quick_help="q"), [])
    assert not hasattr(bare, "threads") and not hasattr(bare, "seed")


def test_interleaved_times_calls_in_turn_after_the_warmup():
    calls = []
    times = common.interleaved_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, warmup=2)
    assert calls == ["a", "b"] * 5
    assert [len(times["a"]), len(times["b"])] == [3, 3]
    assert common.ratio_of_medians({"a": [2.0, 4.0, 9.0], "b": [1.0, 2.0, 3.0]}, "a", "b") == 2.0


def test_machine_has_the_base_entries_versions_and_extras():
    out = common.machine(("pytest", "no-such-distribution-xyz"), torch_threads=1)
    assert {"cpu_count", "platform", "python"} <= set(out)
    assert out["pytest"] == pytest.__version__ and out["no-such-distribution-xyz"] is None
    assert out["torch_threads"] == 1


def test_emit_writes_strict_json_to_output_and_prints_it(tmp_path, capsys):
    path = tmp_path / "sub" / "result.json"
    args = common.parse_args(common.bench_parser("T.", quick_help="q"), ["--json", "--output", str(path)])
    common.emit({"ratio": float("nan"), "pair": (1, 2), "ok": True}, args)
    written = json.loads(path.read_text())
    assert written == {"ratio": None, "pair": [1, 2], "ok": True}
    assert json.loads(capsys.readouterr().out) == written
    args = common.parse_args(common.bench_parser("T.", quick_help="q"), [])
    common.emit({"a": 1.5, "b": math.pi}, args, common.summary_text({"a": 1.5, "b": 2}, ("a",)))
    assert capsys.readouterr().out == "a: 1.5\n"


def test_check_keys_reports_missing_and_extra_paths(tmp_path, capsys):
    ref, new = tmp_path / "ref.json", tmp_path / "new.json"
    ref.write_text(json.dumps({"a": 1, "rows": [{"x": 1}, {"y": 2}], "machine": {"cpu_count": 2}}))
    new.write_text(json.dumps({"a": 2, "rows": [{"x": 1}], "machine": {"cpu_count": 2}, "extra": {"z": 0}}))
    assert check_keys.key_paths(json.loads(ref.read_text())) == {"a", "rows", "rows[].x", "rows[].y", "machine",
                                                                 "machine.cpu_count"}
    assert check_keys.main([str(new), str(ref), "--figures"]) == 1
    out = capsys.readouterr().out
    assert "missing (only in the reference): rows[].y" in out and "extra (only in the new run): extra.z" in out
    assert "| a | 1 | 2 |" in out and "cpu_count" not in out.split("| key |")[1]
    assert check_keys.main([str(ref), str(ref)]) == 0
