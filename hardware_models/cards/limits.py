"""Limits a card is checked against before its schema: size, nesting depth, list lengths and
numbers that JSON allows but a float cannot hold.

* a card file is at most :data:`MAX_CARD_BYTES` bytes (the presets are 2-4 kB), checked before
  it is read or parsed;
* JSON nesting is at most :data:`MAX_DEPTH` levels (a card has 3), checked on the text before
  ``json.loads`` (whose recursion would otherwise fail deep inside the parser);
* a list has at most :data:`MAX_LIST_ENTRIES` entries (measured level tables have tens);
* every number is finite and within the float range (``Infinity``, ``1e400`` and ``10**400``
  are refused with their JSON path, e.g. ``$.device.g_max_S``).

:func:`check_text` runs on the text, :func:`parse_hooks` gives ``json.loads`` the hooks that
mark the numbers a float cannot hold, and :func:`check_values` walks a parsed (or Python-built)
card dict and raises :class:`~hardware_models.cards.errors.CardError` at the first bad value.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from hardware_models.errors import short_repr

from .errors import CardError

__all__ = ["MAX_CARD_BYTES", "MAX_DEPTH", "MAX_LIST_ENTRIES", "check_text", "check_values", "json_path", "parse_hooks"]

MAX_CARD_BYTES = 1_000_000
MAX_DEPTH = 16
MAX_LIST_ENTRIES = 10_000
#: a JSON integer with more digits than this is beyond the float range (1.8e308 has 309 digits)
_MAX_INT_DIGITS = 308

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parent: str, key: Any) -> str:
    """``$.a.b`` for identifier keys, ``$["odd key"]`` for others, ``$.a[3]`` for list indices."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    key = str(key)
    if _IDENT.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{short_repr(key, 40)}]"


def check_text(text: str) -> None:
    """Size and nesting depth of card JSON text, before it is parsed."""
    if len(text) > MAX_CARD_BYTES:
        raise CardError("$", f"the card is {len(text):,} characters; a card is at most {MAX_CARD_BYTES:,}")
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                raise CardError("$", f"JSON nested more than {MAX_DEPTH} levels deep (a card has 3)")


class _Unrepresentable:
    """A JSON number a float cannot hold (or NaN/Infinity), kept as its text until its path is known."""

    def __init__(self, text: str, constant: bool = False):
        self.text = text
        self.constant = constant

    def __repr__(self) -> str:
        return self.text


def _parse_int(text: str) -> Any:
    return _Unrepresentable(text[:12] + "...") if len(text.lstrip("-")) > _MAX_INT_DIGITS else int(text)


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _Unrepresentable(short_repr(text, 24))


def parse_hooks() -> dict[str, Any]:
    """Keyword arguments of ``json.loads`` that mark NaN, Infinity and out-of-range numbers
    (found with their path by :func:`check_values`)."""
    return {"parse_int": _parse_int, "parse_float": _parse_float, "parse_constant": _constant}


def _constant(name: str) -> Any:
    return _Unrepresentable(name, constant=True)


def _number_problem(value: Any) -> str | None:
    if isinstance(value, _Unrepresentable) and value.constant:
        return f"{value.text} is not allowed in a card (JSON numbers must be finite)"
    if isinstance(value, _Unrepresentable):
        return f"must be a finite number within the float range (|x| < 1.8e308), got {value.text}"
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return None
    if isinstance(value, numbers.Integral):
        if abs(int(value)) > 1.7e308:
            return f"must be a finite number within the float range (|x| < 1.8e308), got {short_repr(value, 24)}"
        return None
    if isinstance(value, numbers.Real):
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        return None if finite else f"must be a finite number, got {short_repr(value, 24)}"
    return f"must be a real number, got {short_repr(value, 24)}"


def check_values(data: Any) -> None:
    """Walk ``data`` (iteratively, so depth cannot exhaust the stack) and raise a CardError at
    the first value nested too deep, list too long, or number a float cannot hold."""
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CardError(path, f"nested more than {MAX_DEPTH} levels deep (a card has 3)")
        if isinstance(node, dict):
            stack.extend((v, json_path(path, k), depth + 1) for k, v in reversed(list(node.items())))
        elif isinstance(node, (list, tuple)):
            if len(node) > MAX_LIST_ENTRIES:
                raise CardError(path, f"a list of {len(node):,} entries; at most {MAX_LIST_ENTRIES:,} are allowed")
            stack.extend((v, json_path(path, i), depth + 1) for i, v in reversed(list(enumerate(node))))
        else:
            problem = _number_problem(node)
            if problem:
                raise CardError(path, problem)
