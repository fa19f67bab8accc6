"""hardware_models is physics only: importing it, or any of its modules, never pulls in torch
or brian2 (DESIGN.md, "Layers"). Checked in a fresh interpreter."""

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys
import hardware_models
failed = {}
names = ["hardware_models"]
for info in pkgutil.walk_packages(hardware_models.__path__, "hardware_models."):
    names.append(info.name)
    try:
        importlib.import_module(info.name)
    except Exception as exc:  # report, do not hide
        failed[info.name] = repr(exc)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "brian2"))
print(json.dumps({"modules": names, "heavy": heavy, "failed": failed}))
"""


def run_probe():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_hardware_models_never_imports_torch_or_brian2():
    result = run_probe()
    assert result["heavy"] == [], f"hardware_models pulled in {result['heavy']}"
    assert result["failed"] == {}, result["failed"]
    for expected in ("hardware_models.devices.pcm", "hardware_models.cards.io", "hardware_models.cost.read"):
        assert expected in result["modules"]


def test_public_api_is_exported():
    import hardware_models
    from hardware_models import cards, cost, devices

    for module in (hardware_models, devices, cards, cost):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is in __all__ but missing"
