"""The layers of the house: no import runs from a lower layer up to a higher one.

Every ``import`` statement of every module (at the top and inside functions: a lazy import is
still an arrow) is read with :mod:`ast` and checked against the rules:

* ``hardware_models`` (the physics) imports nothing from ``analogeq``, torch or brian2;
* the networks (``analogeq/ebm``, ``analogeq/baselines/models``) import no substrate,
  robustness or training code (they know the substrates only through ``analogeq.contract``;
  adversarial training of the baselines, in ``baselines/defences``, may attack a substrate);
* ``analogeq/robustness`` imports no substrate implementation (the protocol in
  ``analogeq.substrates.base`` and the contract are allowed);
* ``analogeq/report`` imports no substrate;
* ``analogeq/contract.py`` and ``analogeq/stats.py`` import nothing else of ``analogeq``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offending(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in modules_under(folder):
        for name in sorted(imported_modules(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden) and not any(
                name == a or name.startswith(a + ".") for a in allowed
            ):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


RULES = {
    "hardware_models": (("analogeq", "torch", "brian2"), ()),
    "analogeq/ebm": (("analogeq.substrates", "analogeq.robustness", "analogeq.train"), ()),
    "analogeq/baselines/models": (("analogeq.substrates", "analogeq.robustness", "analogeq.train"), ()),
    "analogeq/robustness": (("analogeq.substrates",), ("analogeq.substrates.base",)),
    "analogeq/report": (("analogeq.substrates",), ()),
    "analogeq/contract.py": (("analogeq",), ("analogeq.contract",)),
    "analogeq/stats.py": (("analogeq",), ("analogeq.stats",)),
}


@pytest.mark.parametrize("folder", sorted(RULES))
def test_no_import_runs_up_a_layer(folder):
    forbidden, allowed = RULES[folder]
    if folder.endswith(".py"):
        path = ROOT / folder
        bad = [f"{folder} imports {n}" for n in sorted(imported_modules(path))
               if any(n == f or n.startswith(f + ".") for f in forbidden)
               and not any(n == a or n.startswith(a + ".") for a in allowed)]
    else:
        bad = offending(folder, forbidden, allowed)
    assert not bad, "\n".join(bad)


def test_the_walker_sees_lazy_and_relative_imports(tmp_path):
    """The check itself: an import inside a function and relative imports are found."""
    mod = tmp_path / "pkg" / "sub" / "mod.py"
    mod.parent.mkdir(parents=True)
    mod.write_text("from . import sibling\nfrom ..other import thing\n\ndef f():\n    import torch\n")
    names = imported_modules(mod, tmp_path)
    assert {"pkg.sub.sibling", "pkg.other.thing", "torch"} <= names
