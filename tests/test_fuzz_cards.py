"""Property tests (hypothesis) of card validation: one mutated field of a preset is either
accepted (and then the card is physical and round-trips) or refused with a CardError on one
short line whose JSON path names that field (or the section holding it)."""

from __future__ import annotations

import json
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hardware_models.cards import CardError, card_from_dict, list_presets, parse_card_json, preset  # noqa: E402
from hardware_models.cards.plausible import PLAUSIBLE  # noqa: E402

# seeded (derandomize) and bounded: every fuzz test module runs in a few seconds
FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PRESETS = {name: preset(name).to_dict() for name in list_presets()}

SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, -1, 1e308, 1e-320, 2**64, True, None]),
    st.text(max_size=20),
    st.text(min_size=3000, max_size=3000, alphabet="x"),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=5), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list) and node and all(isinstance(v, (int, float)) for v in node):
        for i in range(len(node)):
            yield path + (i,)
    else:
        yield path


LEAVES = [(name, leaf) for name, data in PRESETS.items() for leaf in _leaves(data) if leaf[0] not in ("card_type", "schema_version")]


def _json_path(path):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _mutated(name, path, value):
    data = json.loads(json.dumps(PRESETS[name]))
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return data


def _check_rejection(err: CardError, path) -> None:
    text = str(err)
    assert "\n" not in text and len(text) <= 400, text
    mutated, named = _json_path(path), err.json_path
    # the field itself, a field inside it, or (a cross-field rule) its section or the card
    assert named.startswith(mutated) or mutated.startswith(named) or named.split(".")[1:2] == [str(path[0])] \
        or named == "$", (mutated, text)


def _is_plausible(card) -> bool:
    data = card.to_dict()
    for dotted, (lo, hi, _) in PLAUSIBLE[card.card_type].items():
        node = data
        for part in dotted.removesuffix("[]").split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values = node if isinstance(node, list) else [node]
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not (lo <= v <= hi and math.isfinite(v)):
                return False
    return True


@FAST
@given(leaf=st.sampled_from(LEAVES), value=VALUES)
def test_one_mutated_field_is_accepted_physically_or_refused_by_name(leaf, value):
    name, path = leaf
    try:
        card = card_from_dict(_mutated(name, path, value))
    except CardError as err:
        _check_rejection(err, path)
        return
    assert _is_plausible(card) and card_from_dict(card.to_dict()) == card


@FAST
@given(name=st.sampled_from(sorted(PRESETS)), data=st.data())
def test_corrupted_card_text_is_refused_in_one_line_or_parsed(name, data):
    text = json.dumps(PRESETS[name])
    pos = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["[" * 3000, "NaN", "1e999", "-Infinity", "9" * 400, '"', "}", ",", "\x00", "",
                                        '{"a": ' * 40]))
    cut = data.draw(st.integers(0, 3))
    corrupted = text[:pos] + insert + text[pos + cut:]
    try:
        parsed = parse_card_json(corrupted, "fuzz.json")
    except CardError as err:
        assert "\n" not in str(err) and str(err).startswith("fuzz.json: $") and len(str(err)) <= 400
        return
    try:
        card_from_dict(parsed)
    except CardError as err:
        assert "\n" not in str(err) and err.json_path.startswith("$")
