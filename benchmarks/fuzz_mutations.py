"""Mutations of valid inputs for :mod:`fuzz_inputs`: device cards (JSON text), sweep specs
(dicts for the API, bytes for files) and bad command lines. Seeded: ``random.Random(seed)``.

Each generator yields ``(label, input)``; the label names the mutation so that a failure can be
reproduced from the JSON report.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any, Iterator

#: markers replaced by raw JSON tokens that ``json.dumps`` cannot write
_RAW = {"@NaN@": "NaN", "@Inf@": "Infinity", "@-Inf@": "-Infinity", "@1e400@": "1e400",
        "@bigint@": "1" + "0" * 400, "@hugeint@": "7" * 5000}

VALUES: list[Any] = [
    0, -1, 1, 2**31, 2**63, 2**64, 10**400, -10**400, 0.0, -0.0, 1e-320, 5e-324, 1e308, -1e308, 1e12, -1e12,
    1e-30, 0.5, 3.7, True, False, None, "", "x", "null", "é\u0000\U0001F600", "x" * 5000, [], [1, 2], [[1], [2]],
    [None], {}, {"a": 1}, {"start": 1, "stop": 2}, list(range(50)),
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indices) of a JSON-like tree, the root excluded."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _deep(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    node = leaf
    for _ in range(depth):
        node = [node] if kind == "list" else {"a": node}
    return node


def _deep_text(depth: int, kind: str) -> str:
    """JSON text nested ``depth`` levels (written as text: json.dumps would recurse)."""
    return "[" * depth + "1" + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


def _text(data: Any) -> str:
    text = json.dumps(data)
    for marker, token in _RAW.items():
        text = text.replace(json.dumps(marker), token)
    for depth in (20, 100, 999, 1001, 5000, 50000):
        for kind in ("list", "dict"):
            text = text.replace(json.dumps(f"@deep{depth}{kind}@"), _deep_text(depth, kind))
    return text


def _set_random_values(data: Any, count: int, rng: random.Random) -> str:
    """Set ``count`` random paths of ``data`` to random :data:`VALUES`; the label suffix."""
    label = ""
    for _ in range(count):
        p = rng.choice(_paths(data))
        v = rng.choice(VALUES)
        _set(data, p, copy.deepcopy(v))
        label += f":{'.'.join(map(str, p))}={str(v)[:20]!r}"
    return label


def card_variants(presets: dict[str, dict], n: int, rng: random.Random) -> Iterator[tuple[str, str]]:
    """``n`` card texts: mutations of the preset dicts (one or two mutations each)."""
    names = sorted(presets)
    for i in range(n):
        name = rng.choice(names)
        data = copy.deepcopy(presets[name])
        kind = rng.choice(["value", "value", "scale", "scale", "scale", "raw", "delete", "add", "deep", "text",
                           "top", "allow", "two"])
        if i < 2:  # the 30 MB card of the issue (a 10-million-entry list): twice, not more
            kind = "huge"
        label = f"{name}:{kind}"
        paths = _paths(data)
        numeric = [p for p in paths if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)]
        if kind in ("value", "two"):
            label += _set_random_values(data, 1 if kind == "value" else 2, rng)
        elif kind == "scale" and numeric:
            p = rng.choice(numeric)
            factor = 10.0 ** rng.randint(-40, 40) * rng.choice([1, -1, 0.5, 3])
            old = _get(data, p)
            _set(data, p, (old or 1e-6) * factor)
            label += f":{'.'.join(map(str, p))}*{factor:g}"
        elif kind == "raw" and numeric:
            p = rng.choice(numeric)
            marker = rng.choice(list(_RAW))
            _set(data, p, marker)
            label += f":{'.'.join(map(str, p))}={_RAW[marker][:8]}"
        elif kind == "delete":
            p = rng.choice(paths)
            parent = _get(data, p[:-1])
            del parent[p[-1]]
            label += f":{'.'.join(map(str, p))}"
        elif kind == "add":
            dicts = [()] + [p for p in paths if isinstance(_get(data, p), dict)]
            p = rng.choice(dicts)
            _get(data, p)[rng.choice(["extra", "g_max", "__proto__", "bits ", "é"])] = rng.choice(VALUES)
        elif kind == "deep":
            p = rng.choice(paths)
            depth = rng.choice([20, 100, 999, 1001, 5000, 50000])
            _set(data, p, f"@deep{depth}{rng.choice(['list', 'dict'])}@")
            label += f":{depth}"
        elif kind == "allow":
            data["allow_implausible"] = rng.choice([["device.g_max_S"], "all", [1], ["nope"], [], ["timing.t_nudge_s"]])
        elif kind == "huge":
            data["references"] = ["x"] * 10_000_000
        text = _text(data)
        if kind == "text":  # corrupt the text itself
            op = rng.choice(["truncate", "flip", "dupkey", "bom", "trailing"])
            pos = rng.randrange(len(text))
            if op == "truncate":
                text = text[:pos]
            elif op == "flip":
                text = text[:pos] + rng.choice('{}[]",:\\0eE-+ \x00\u00ff') + text[pos + 1:]
            elif op == "dupkey":
                text = text.replace('"name"', '"name": "a", "name"', 1)
            elif op == "bom":
                text = "\ufeff" + text
            else:
                text += rng.choice([",", "}", " x", "\n\n{}"])
            label += f":{op}@{pos}"
        elif kind == "top":
            text = rng.choice(["[]", "1", '"card"', "null", "", "  ", "{}", "[" * 100000])
        yield label, text


def base_spec() -> dict[str, Any]:
    """A valid, physics-only spec (18 points) that the spec mutations start from."""
    return {
        "name": "fuzz",
        "description": "fuzzing base",
        "card": {"preset": "pcm"},
        "axes": {"device.read_noise_scale": [0.0, 1.0, 2.0],
                 "drift_time_s": {"start": 1.0, "stop": 1000.0, "num": 3, "log": True}},
        "evaluations": {"conductance_error": {"n_cells": 64}},
        "seeds": [0, 1],
    }


_SPEC_SPECIALS: list[tuple[str, Any]] = [
    ("seeds", [2**64]), ("seeds", [2**63]), ("seeds", [2**63 - 1]), ("seeds", {"start": 2**63 - 1, "count": 2}),
    ("seeds", {"start": 0, "count": 10**9}), ("seeds", list(range(200_000))), ("seeds", [-1]), ("seeds", [0, 0]),
    ("axes", {"adc.bits": [[4, 6], [8]]}), ("axes", {"adc.bits": [{"a": 1}]}), ("axes", {"adc.bits": [4, [5]]}),
    ("axes", {"device.read_noise_scale": {"start": 0.0, "stop": 1.0, "num": 10**9}}),
    ("axes", {"device.read_noise_scale": {"start": 0.0, "stop": 1.0, "num": 10**400}}),
    ("axes", {"adc.bits": {"start": 10**400, "stop": 10**400 + 1, "num": 2}}),
    ("axes", {"a.b": {"start": 0, "stop": 1, "num": 2}, "device.read_noise_scale": list(range(5000))}),
    ("axes", {f"device.read_noise_scale": [0.1 * i for i in range(1000)],
              "drift_time_s": {"start": 1.0, "stop": 1e6, "num": 1000}}),
    ("axes", {"drift_time_s": {"start": 1, "stop": 2, "num": 3}}), ("axes", {"": [1]}), ("axes", {"adc": [1]}),
    ("axes", {"drift_time_s": {"start": float("nan"), "stop": 1.0, "num": 2}}),
    ("axes", {"drift_time_s": [float("inf")]}), ("axes", {"n_cells": [1, 10**400]}),
    ("card", {"path": "/nonexistent/card.json"}), ("card", {"path": "/"}), ("card", {"preset": "x" * 5000}),
    ("card", {"preset": "pcm", "path": "x"}), ("evaluations", {"nope": {}}), ("evaluations", ["conductance_error"] * 2),
    ("evaluations", {"conductance_error": {"n_cells": "many"}}), ("evaluations", {"conductance_error": []}),
    ("substrates", ["crossbar", {"kind": "spiking", "card": {"preset": "nope"}}]), ("substrates", [[1]]),
    ("network", {"checkpoint": "/nonexistent.safetensors"}), ("network", {"train": {"epochs": 10**400}}),
    ("imports", ["os"]), ("name", "../../etc"), ("name", "x" * 10000), ("description", 10**400),
]


def spec_variants(n: int, rng: random.Random) -> Iterator[tuple[str, Any]]:
    """``n`` spec dicts: the special cases above, then random mutations of :func:`base_spec`."""
    for i in range(n):
        data = base_spec()
        if i < len(_SPEC_SPECIALS):
            key, value = _SPEC_SPECIALS[i]
            data[key] = copy.deepcopy(value)
            yield f"special:{key}:{str(value)[:40]}", data
            continue
        kind = rng.choice(["value", "value", "value", "delete", "add", "deep", "top", "grid", "two"])
        label = kind
        paths = _paths(data)
        if kind in ("value", "two"):
            label += _set_random_values(data, 1 if kind == "value" else 2, rng)
        elif kind == "delete":
            p = rng.choice(paths)
            del _get(data, p[:-1])[p[-1]]
            label += f":{'.'.join(map(str, p))}"
        elif kind == "add":
            dicts = [()] + [p for p in paths if isinstance(_get(data, p), dict)]
            p = rng.choice(dicts)
            key = rng.choice(["extra", "adc.bits", "n_cells", "seeds", "start", "count", 1, ("t",)])
            _get(data, p)[key] = rng.choice(VALUES)
            label += f":{p}+{key!r}"
        elif kind == "deep":
            p = rng.choice(paths)
            depth = rng.choice([20, 500, 999, 1001, 5000])
            _set(data, p, _deep(depth, kind=rng.choice(["list", "dict"])))
            label += f":{depth}"
        elif kind == "grid":  # big grids: 10^4 .. 10^12 points
            axes = {}
            for path in rng.sample(["device.read_noise_scale", "device.drift_scale", "device.programming_noise_scale",
                                    "drift_time_s", "n_cells"], rng.randint(1, 4)):
                num = rng.choice([10, 100, 1000, 10_000, 100_000])
                axes[path] = ({"start": 1, "stop": num, "num": num} if path == "n_cells"
                              else {"start": 1.0, "stop": 2.0, "num": num})
            data["axes"] = axes
            data["evaluations"] = {"conductance_error": {}}
            label += f":{[a['num'] for a in axes.values()]}"
        elif kind == "top":
            data = rng.choice([[], "spec", 1, None, {"name": "x"}, {}])
        yield label, data


def spec_file_variants(text: str, n: int, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """``n`` spec files: bytes mutations of a valid TOML ``text``."""
    raw = text.encode("utf-8")
    for i in range(n):
        op = rng.choice(["flip", "badutf8", "truncate", "deeparray", "deeptable", "bigint", "huge", "nul", "dup"])
        pos = rng.randrange(len(raw))
        if op == "flip":
            data = raw[:pos] + bytes([rng.randrange(32, 127)]) + raw[pos + 1:]
        elif op == "badutf8":
            data = raw[:pos] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xfe\xfe"]) + raw[pos:]
        elif op == "truncate":
            data = raw[:pos]
        elif op == "deeparray":
            depth = rng.choice([100, 1000, 5000, 20000])
            data = raw + b"\n[extra]\nx = " + b"[" * depth + b"1" + b"]" * depth + b"\n"
        elif op == "deeptable":
            depth = rng.choice([100, 1000, 5000])
            data = raw + b"\n[" + b".".join([b"a"] * depth) + b"]\nx = 1\n"
        elif op == "bigint":
            data = raw.replace(b"seeds = [0, 1]", b"seeds = [" + rng.choice([b"18446744073709551616", b"1" + b"0" * 500, b"-1"]) + b"]")
        elif op == "huge":
            data = raw + b"\n# " + b"x" * 3_000_000 + b"\n"
        elif op == "nul":
            data = raw[:pos] + b"\x00" + raw[pos:]
        else:
            data = raw + b'\nname = "again"\n'
        yield f"file:{op}@{pos}", data
