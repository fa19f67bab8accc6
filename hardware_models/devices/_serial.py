"""``to_dict``/``from_dict`` for the device-model dataclasses (the ``device`` section of a card)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ..params import ParameterError
from ._checks import build_dataclass, require_dict


def plain(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists (recursively)."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


class DeviceDictMixin:
    """Serialisation shared by device models: fields plus ``kind`` as a flat JSON dict."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The ``device`` section of a card: ``{"kind": ..., <every field>}`` in SI units."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build from a ``device`` section (``kind`` optional but, if present, must match)."""
        data = require_dict(cls.__name__, data)
        if "kind" in data and data["kind"] != cls.kind:
            raise ParameterError(cls.__name__, "kind", f"{data['kind']!r} does not match {cls.kind!r}")
        return build_dataclass(cls, data, ignore=frozenset({"kind"}))


class SectionDictMixin:
    """Serialisation of a plain parameter dataclass (a card section without ``kind``)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return build_dataclass(cls, data)
