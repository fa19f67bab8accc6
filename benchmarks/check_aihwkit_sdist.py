"""Check the aihwkit export against aihwkit's own Python sources (read from its sdist, never built).

aihwkit ships only as a source archive whose build needs a C++ toolchain and torch, so this
script reads the Python files of the sdist with ``ast`` instead of importing them, and:

1. collects the constructor signatures the export maps to: ``PCMLikeNoiseModel.__init__`` and
   ``SinglePairConductanceConverter.__init__`` (parameters and defaults), the dataclass fields of
   ``IOParameters``, ``MappingParameter`` and ``InferenceRPUConfig`` (with its bases), the default
   ``prog_coeff`` of ``PCMLikeNoiseModel``, and whether its ``__init__`` stores an explicitly
   passed ``prog_coeff_g_max_reference`` (aihwkit 1.2.0 does not: it assigns the attribute only
   when the argument is None, so passing it makes ``apply_programming_noise_to_conductance``
   raise AttributeError);
2. checks ``card_to_aihwkit(preset("pcm"))`` and the recipes (package docstring of
   ``hardware_models.export.aihwkit`` and ``docs/interop.md``) against them (the same checks as
   ``tests/test_interop_aihwkit_sdist.py``, which reads the JSON written here);
3. with ``--write PATH`` writes those signatures as JSON (``tests/data/aihwkit_1.2.0_signatures.json``).

Usage (the sdist: ``pip download aihwkit==1.2.0 --no-deps --no-binary :all: -d /tmp/aihwkit``)::

    python benchmarks/check_aihwkit_sdist.py /tmp/aihwkit/aihwkit-1.2.0.tar.gz [--write PATH] [--json]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from aihwkit_signatures import check_export_against  # noqa: E402  (tests/aihwkit_signatures.py)

SOURCES = {
    "PCMLikeNoiseModel": "src/aihwkit/inference/noise/pcm.py",
    "SinglePairConductanceConverter": "src/aihwkit/inference/converter/conductance.py",
    "IOParameters": "src/aihwkit/simulator/parameters/io.py",
    "MappingParameter": "src/aihwkit/simulator/parameters/mapping.py",
    "InferenceRPUConfig": "src/aihwkit/simulator/configs/configs.py",
    "PrePostProcessingRPU": "src/aihwkit/simulator/parameters/pre_post.py",
}
DATACLASSES = ("IOParameters", "MappingParameter", "InferenceRPUConfig")


def _literal(node: ast.AST | None):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    arithmetic = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
    expr = ast.Expression(body=node)
    if all(isinstance(n, arithmetic) for n in ast.walk(expr)):  # e.g. 1 / (2**7 - 2)
        return eval(compile(expr, "<aihwkit default>", "eval"), {"__builtins__": {}})
    return ast.unparse(node)


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise KeyError(f"class {name} not found")


def init_signature(tree: ast.Module, name: str) -> dict:
    """Parameters (after self) of ``name.__init__`` with their default values."""
    init = next(n for n in _class(tree, name).body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    args = init.args.args[1:]
    defaults = [None] * (len(args) - len(init.args.defaults)) + list(init.args.defaults)
    return {"params": [a.arg for a in args], "defaults": {a.arg: _literal(d) for a, d in zip(args, defaults) if d is not None}}


def dataclass_fields(trees: list[ast.Module], name: str) -> dict:
    """Annotated fields of ``name`` and of its bases (looked up in every parsed source), with
    their defaults (literal values, else the source text; None where there is no default)."""
    cls = next(c for c in (_find(t, name) for t in trees) if c is not None)
    out: dict = {}
    for base in cls.bases:
        if isinstance(base, ast.Name) and any(_find(t, base.id) for t in trees):
            out.update(dataclass_fields(trees, base.id))
    for n in cls.body:
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out[n.target.id] = _literal(n.value)
    return out


def _find(tree: ast.Module, name: str) -> ast.ClassDef | None:
    try:
        return _class(tree, name)
    except KeyError:
        return None


def pcm_details(tree: ast.Module) -> dict:
    """The default ``prog_coeff`` and whether an explicit ``prog_coeff_g_max_reference`` is stored."""
    init = next(n for n in _class(tree, "PCMLikeNoiseModel").body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    default_coeff = stores_argument = None
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
            attr = node.targets[0].attr
            if attr == "prog_coeff" and isinstance(node.value, ast.List):
                default_coeff = _literal(node.value)
            if attr == "prog_coeff_g_max_reference" and isinstance(node.value, ast.Name) and node.value.id == "prog_coeff_g_max_reference":
                stores_argument = True
    return {"default_prog_coeff": default_coeff, "stores_explicit_prog_coeff_g_max_reference": bool(stores_argument)}


def read_signatures(sdist: str) -> dict:
    with open(sdist, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    trees = {}
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        for cls, rel in SOURCES.items():
            trees[cls] = ast.parse(tar.extractfile(f"{top}/{rel}").read().decode("utf8"))
    out = {
        "_header": (
            f"Generated by benchmarks/check_aihwkit_sdist.py from {os.path.basename(sdist)} "
            f"(sha256 {sha}): constructor signatures read with ast from its Python sources; do not edit by hand."
        ),
        "sdist": os.path.basename(sdist),
        "sha256": sha,
        "sources": SOURCES,
        "constructors": {c: init_signature(trees[c], c) for c in ("PCMLikeNoiseModel", "SinglePairConductanceConverter")},
        "dataclass_fields": {c: dataclass_fields(list(trees.values()), c) for c in DATACLASSES},
    }
    out["PCMLikeNoiseModel"] = pcm_details(trees["PCMLikeNoiseModel"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", help="path to aihwkit-<version>.tar.gz")
    parser.add_argument("--write", default=None, help="write the signatures JSON here")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    sig = read_signatures(args.sdist)
    problems = check_export_against(sig)
    if args.write:
        with open(args.write, "w") as f:
            json.dump(sig, f, indent=1, sort_keys=True)
            f.write("\n")
    result = {"sdist": sig["sdist"], "sha256": sig["sha256"], "problems": problems, "ok": not problems}
    print(json.dumps(result, indent=1) if args.json else ("ok" if not problems else "\n".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
