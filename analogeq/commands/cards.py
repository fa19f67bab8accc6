"""``analogeq cards``: list, show and copy device cards (the shipped presets or card files).

    analogeq cards list                                   # every preset: name, type, description
    analogeq cards show pcm                               # the card as JSON (every field)
    analogeq cards show pcm --set adc.bits=4              # ... with a field changed
    analogeq cards copy pcm my-pcm.json --set adc.bits=6 --set name=pcm-6bit

NAME is a preset name or a card file (an existing file wins). ``--set KEY=VALUE`` (repeatable)
changes one field: KEY is a dotted path such as ``adc.bits`` or ``device.read_noise_scale``,
VALUE is read as JSON. The changed card is validated exactly like a card file, so a bad value
is refused with one line naming the field and what is allowed. ``copy`` writes a validated card
file (atomically; an existing OUT is kept unless ``--force``) that every ``--card`` option takes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import add_set_argument, apply_sets, card_argument

#: width of the description column of ``cards list``
DESCRIPTION_WIDTH = 72


def register(subparsers: Any) -> None:
    parser = command_parser(subparsers, "cards", "list, show and copy device cards (presets or card files)", __doc__)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the shipped presets: name, card type and description")
    show = actions.add_parser("show", help="print a card (preset name or file) as JSON")
    show.add_argument("name", help="preset name or card file")
    add_set_argument(show)
    copy = actions.add_parser("copy", help="write a card (preset name or file, with --set changes) to a new card file")
    copy.add_argument("name", help="preset name or card file")
    copy.add_argument("out", help="card JSON file to write")
    copy.add_argument("--force", action="store_true", help="replace OUT if it exists")
    add_set_argument(copy)
    parser.set_defaults(func=run)


def _short(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def preset_rows() -> list[tuple[str, str, str]]:
    """(name, card_type, description) of every shipped preset, sorted by name."""
    from hardware_models.cards import list_presets, preset

    rows = []
    for name in list_presets():
        card = preset(name)
        rows.append((name, str(card.card_type), str(getattr(card, "description", "") or "")))
    return rows


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = preset_rows()
        width = max(len(name) for name, _, _ in rows)
        for name, card_type, description in rows:
            print(f"{name:<{width}}  {card_type:<8}  {_short(description)}")
        return 0
    card = apply_sets(card_argument(args.name), args.set)
    if args.action == "show":
        print(json.dumps(card.to_dict(), indent=2, allow_nan=False))
        return 0
    # copy: validated when resolved and at every --set, written by the one card writer
    from pathlib import Path

    from hardware_models.cards import save_card

    if Path(args.out).exists() and not args.force:
        raise FileExistsError(f"{args.out} exists; give --force to replace it")
    save_card(card, args.out, overwrite=args.force)
    print(f"wrote card {card.name!r} ({card.card_type}) to {args.out}")
    return 0
