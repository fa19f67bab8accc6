"""Bad command lines for :mod:`fuzz_inputs`: every one must end in one line on stderr and exit
status 2 (argparse's usage errors included), before any long work starts.

:func:`prepare` writes the files the cases name into a folder; :func:`bad_invocations` lists
the cases (``{t}`` is that folder).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

__all__ = ["bad_invocations", "judge_cli", "prepare", "run_cli"]

_SPEC = """name = "{name}"
seeds = {seeds}
[card]
preset = "pcm"
[axes]
{axes}
[evaluations.conductance_error]
n_cells = 64
"""


def prepare(folder: Path) -> None:
    """The files the cases refer to."""
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model
    from hardware_models.cards import preset

    (folder / "d").mkdir(exist_ok=True)
    (folder / "garbage.json").write_text("{garbage")
    (folder / "badutf8.json").write_bytes(b'{"name": "\xff\xfe"}')
    (folder / "deep.json").write_text("[" * 50000 + "]" * 50000)
    pcm = preset("pcm").to_dict()
    (folder / "inf.json").write_text(json.dumps(pcm).replace('"g_max_S": 2.5e-05', '"g_max_S": Infinity'))
    (folder / "huge.json").write_text(json.dumps(pcm).replace('"g_max_S": 2.5e-05', '"g_max_S": 1e308'))
    (folder / "notes.txt").write_text("my notes\n")
    save_checkpoint(folder / "ck.safetensors", build_model({"kind": "dense_ebm", "hidden_sizes": [8]}))
    _huge_resistive(folder / "rhuge.safetensors")
    (folder / "fake.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}" + b" " * 14)
    (folder / "fake.pt").write_bytes(b"PK\x03\x04 not a zip")
    specs = {
        "ok": ('"device.read_noise_scale" = [0.0, 1.0]', "[0]"),
        "big": ('"device.read_noise_scale" = { start = 0.0, stop = 1.0, num = 100000 }\n'
                'drift_time_s = { start = 1.0, stop = 1e6, num = 1000 }', "[0]"),
        "seeds": ('"device.read_noise_scale" = [0.0]', "[18446744073709551616]"),
        "listaxis": ('"adc.bits" = [[4, 6], [8]]', "[0]"),
        "nan": ('"device.read_noise_scale" = [nan]', "[0]"),
        "badcard": ('"device.g_max_S" = [1e308]', "[0]"),
    }
    for name, (axes, seeds) in specs.items():
        (folder / f"{name}.toml").write_text(_SPEC.format(name=name, axes=axes, seeds=seeds))
    (folder / "badutf8.toml").write_bytes(b'name = "\xff"\n')
    (folder / "deep.toml").write_text("name = 'x'\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "bad.toml").write_text("name = = 1\n")
    (folder / "in.npy").write_bytes(b"\x93NUMPY junk")


_CARD_OPTS = ["garbage.json", "badutf8.json", "deep.json", "inf.json", "huge.json", "d", "nopreset", "ck.safetensors"]
_SETS = ["adc.bits=x", "adc.bits=1e400", "nosuch.field=1", "adc.bits", "=3", "device.g_max_S=1e308", "adc.bits=[1,2]"]


def _huge_resistive(path: Path) -> None:
    """A resistive_drn checkpoint whose config claims 10^8 hidden nodes (digest matching): it
    must be refused from the header, before 25 GB of conductances are built."""
    from safetensors.torch import load, save

    from analogeq.checkpoint import _digest, save_checkpoint
    from analogeq.models import build_model

    small = {"kind": "resistive_drn", "input_shape": [1, 4, 4], "hidden_sizes": [6], "num_classes": 3}
    raw = save_checkpoint(path, build_model(small)).read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
    tensors = load(raw)
    config = json.dumps({**json.loads(header["model_config"]), "hidden_sizes": [10**8]})
    header.update(model_config=config, sha256=_digest(config, header["metadata"], tensors))
    path.write_bytes(save(tensors, metadata=header))


def bad_invocations() -> list[list[str]]:
    """About 155 bad command lines (``{t}``: the prepared folder)."""
    t = "{t}"
    cases: list[list[str]] = []
    for card in _CARD_OPTS:
        cases.append(["evaluate", f"{t}/ck.safetensors", "--substrate", "crossbar", "--card", f"{t}/{card}" if card != "nopreset" else card])
        cases.append(["export", f"{t}/ck.safetensors", f"{t}/x.cir", "--to", "spice", "--card", f"{t}/{card}" if card != "nopreset" else card])
        cases.append(["export", f"{t}/{card}" if card != "nopreset" else card, f"{t}/x.json", "--to", "aihwkit"])
        cases.append(["cards", "show", f"{t}/{card}" if card != "nopreset" else card])
    for s in _SETS:
        cases.append(["cards", "show", "pcm", "--set", s])
        cases.append(["export", "pcm", f"{t}/x.json", "--to", "crosssim", "--set", s])
    for ck in ["d", "garbage.json", "notes.txt", "fake.safetensors", "fake.pt", "missing.safetensors"]:
        cases.append(["evaluate", f"{t}/{ck}"])
        cases.append(["export", f"{t}/{ck}", f"{t}/x.cir", "--to", "spice"])
        cases.append(["robustness", "--checkpoint", f"{t}/{ck}", "--out", f"{t}/r"])
    for out in ["d", "notes.txt/x", "ck.safetensors/sub/x"]:
        cases.append(["train", "--out", f"{t}/{out}", "--epochs", "1"])
        cases.append(["export", "pcm", f"{t}/{out}", "--to", "aihwkit"])
        cases.append(["cards", "copy", "pcm", f"{t}/{out}"])
        cases.append(["import", f"{t}/garbage.json", f"{t}/{out}", "--from", "aihwkit"])
    for out in ["notes.txt", "ck.safetensors", "notes.txt/sub"]:
        cases.append(["robustness", "--out", f"{t}/{out}"])
        cases.append(["demo", "--out", f"{t}/{out}"])
        cases.append(["compare", "--out", f"{t}/{out}"])
        cases.append(["sweep", "plot", "--db", f"{t}/notes.txt", "--out", f"{t}/{out}"])
    for flags in (["--epochs", "0"], ["--epochs", "-3"], ["--batch-size", "0"], ["--lr", "nan"], ["--lr", "-1"],
                  ["--beta", "0"], ["--beta", "inf"], ["--momentum", "1.5"], ["--threads", "0"], ["--dataset", "bogus"],
                  ["--dataset", "mnist", "--data-root", f"{t}/d"], ["--model-config", "{bad"], ["--model-config", "[1]"],
                  ["--model-config", '{"hidden_sizes": "x"}'], ["--model-config", '{"hidden_sizes": [0]}'],
                  ["--limit-train", "0"], ["--device", "bogus"], ["--weight-decay", "-1"]):
        cases.append(["train", "--out", f"{t}/m.safetensors", *flags])
    for flags in (["--drift-time", "-1"], ["--drift-time", "1e400"], ["--drift-time", "1 fortnight"], ["--draws", "0"],
                  ["--substrate", "bogus"], ["--split-seed", "-1"], ["--dataset", "bogus"], ["--dataset", "mnist-5k"],
                  ["--dataset", "cifar10", "--data-root", f"{t}/d"]):
        cases.append(["evaluate", f"{t}/ck.safetensors", *flags])
    for spec in ["big", "seeds", "listaxis", "nan", "badcard", "badutf8", "deep", "bad", "missing", "d"]:
        cases.append(["sweep", "run", f"{t}/{spec}.toml" if spec != "d" else f"{t}/d", "--db", f"{t}/s.db", "--no-progress"])
    cases += [
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/d"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/notes.txt"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--point-limit", "0"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--point-limit", "1"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--max-points", "-1"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--scheduler", "not-an-address"],
        ["sweep", "run", f"{t}/ok.toml", "--db", f"{t}/s2.db", "--workers", "0", "--executor", "processes"],
        ["sweep", "status", "--db", f"{t}/missing.db"],
        ["sweep", "status", "--db", f"{t}/d"],
        ["sweep", "export", "--db", f"{t}/notes.txt", "--csv", f"{t}/x.csv"],
        ["sweep", "export", "--db", f"{t}/missing.db", "--csv", f"{t}/d"],
        ["cards", "copy", "pcm", f"{t}/ck.safetensors"],
        ["cards", "show", "x" * 5000],
        ["import", f"{t}/missing.json", f"{t}/o.json", "--from", "aihwkit"],
        ["import", f"{t}/garbage.json", f"{t}/o.json", "--from", "crosssim"],
        ["import", f"{t}/notes.txt", f"{t}/o.json", "--from", "csv"],
        ["import", f"{t}/badutf8.json", f"{t}/o.json", "--from", "aihwkit"],
        ["export", f"{t}/ck.safetensors", f"{t}/x.cir", "--to", "spice", "--layer", "99"],
        ["export", f"{t}/ck.safetensors", f"{t}/x.cir", "--to", "spice", "--inputs", f"{t}/in.npy"],
        ["export", f"{t}/ck.safetensors", f"{t}/x.cir", "--to", "spice", "--drift-time", "-5"],
        ["export", f"{t}/ck.safetensors", f"{t}/x.nir", "--to", "nir", "--spiking-card", "pcm"],
        ["evaluate", f"{t}/rhuge.safetensors"],
        ["robustness", "--checkpoint", f"{t}/rhuge.safetensors", "--out", f"{t}/r"],
        ["robustness", "--n-examples", "0", "--out", f"{t}/r"],
        ["robustness", "--suite", "bogus"],
        ["compare", "--threads", "0", "--out", f"{t}/c"],
        ["demo", "--section", "bogus", "--out", f"{t}/demo"],
        ["bogus-command"],
        ["evaluate"],
    ]
    return cases


def run_cli(argv: list[str]) -> tuple[object, str, str]:
    """``analogeq argv`` in this process: (exit code or the exception, stdout, stderr)."""
    from analogeq import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: object = cli.main(argv)
        except SystemExit as exc:  # argparse: usage error
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def judge_cli(code: object, err: str) -> str | None:
    """None when the invocation was refused as it should be; else what went wrong."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING ", "usage:", " "))]
    if code == 0:
        return "accepted (exit 0)"
    if code != 2:
        return f"exit {code}"
    if len(lines) != 1 or not lines[0].startswith("analogeq") or len(lines[0]) > 600:
        return f"not one line: {err[-300:]!r}"
    return None
