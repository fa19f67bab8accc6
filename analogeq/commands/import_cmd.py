"""``analogeq import``: a device card from another simulator's parameters or from measured data.

    analogeq import FILE --from aihwkit  OUT_CARD [--base CARD] [--name NAME]
    analogeq import FILE --from crosssim OUT_CARD [--base CARD] [--name NAME] [--allow-loss] [--rp-ohms]
    analogeq import FILE --from csv      OUT_CARD [--base CARD] [--name NAME] [--device table|pcm]
                                         [--levels auto|distinct|bins] [--n-bins N] [--degree D]
                                         [--g-max-S G] [--report FIT.json]

``aihwkit``: a JSON dict as written by ``analogeq export --to aihwkit`` (aihwkit's names and
units). ``crosssim``: a CrossSim parameter JSON (``CrossSimParameters.to_json`` or ``analogeq
export --to crosssim``). ``csv``: measured data, either ``g_target_S,g_measured_S`` (programming:
a table-device card, or with ``--device pcm`` a PCM card with the fitted sigma(g) polynomial) or
``device_id,t_s,g_S`` (drift: the fitted drift statistics put on a PCM card). The fit report is
printed and, with ``--report``, written as JSON. Fields the source does not describe come from
``--base`` (a card file or preset name; defaults: pcm for aihwkit and drift CSV, pcm-crosssim
for CrossSim, ideal for programming CSV). The card is validated and written atomically.
See docs/interop.md for the field mapping and what is lost.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import add_set_argument, apply_sets, card_argument
from hardware_models.files import atomic_write

FORMATS = ("aihwkit", "crosssim", "csv")


def register(subparsers: Any) -> None:
    parser = command_parser(
        subparsers, "import", "build a device card from aihwkit/CrossSim parameters or measured CSV data", __doc__)
    parser.add_argument("file", help="input file (JSON parameters or CSV measurements)")
    parser.add_argument("--from", dest="fmt", required=True, choices=FORMATS, help="format of FILE")
    parser.add_argument("out_card", help="card JSON file to write")
    parser.add_argument("--base", default=None, help="card file or preset name supplying the fields FILE does not describe")
    parser.add_argument("--name", default=None, help="name of the new card")
    parser.add_argument("--allow-loss", action="store_true", help="crosssim: ignore settings a card cannot express (logged)")
    parser.add_argument("--rp-ohms", action="store_true", help="crosssim: Rp_row/Rp_col are in ohms, not divided by Rmin")
    parser.add_argument("--device", choices=("table", "pcm"), default="table", help="csv programming data: device kind of the card")
    parser.add_argument("--levels", choices=("auto", "distinct", "bins"), default="auto", help="csv programming data: levels")
    parser.add_argument("--n-bins", type=int, default=None, help="csv: number of bins (programming targets: 16; drift conductance: 8)")
    parser.add_argument("--degree", type=int, default=2, help="csv programming data: degree of the sigma(g) polynomial")
    parser.add_argument("--g-max-S", type=float, default=None, help="csv: g_max [S] normalising the fits (default: data / base card)")
    parser.add_argument("--report", default=None, help="csv: write the fit report (JSON) here")
    add_set_argument(parser)  # applied to the imported card before it is written
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hardware_models.cards import save_card

    if args.fmt == "csv":
        card = _from_csv(args)
    else:
        data = _read_json(args.file, args.fmt)
        base = _load_base(args.base)
        if args.fmt == "aihwkit":
            from hardware_models.export.aihwkit import aihwkit_to_card

            card = aihwkit_to_card(data, base=base, name=args.name)
        else:
            from hardware_models.export.crosssim import crosssim_to_card

            card = crosssim_to_card(data, base=base, name=args.name, allow_loss=args.allow_loss, rp_normalized=not args.rp_ohms)
    card = apply_sets(card, args.set)
    save_card(card, args.out_card)
    print(f"wrote card {card.name!r} ({card.device.kind} device) to {args.out_card}")
    return 0


def _from_csv(args: argparse.Namespace) -> Any:
    from hardware_models.cards import preset
    from hardware_models.measured import csv_kind, fit_drift_csv, fit_programming_csv

    _check_is_file(args.file)
    kind = csv_kind(args.file)
    base = _load_base(args.base)
    if kind == "programming":
        options: dict[str, Any] = {"levels": args.levels, "degree": args.degree, "g_max_S": args.g_max_S}
        if args.n_bins is not None:
            options["n_bins"] = args.n_bins
        fit = fit_programming_csv(args.file, **options)
        card = fit.to_card(kind=args.device, base=base, name=args.name or f"measured-{args.device}")
    else:
        base = preset("pcm") if base is None else base
        if base.device.kind != "pcm":
            raise ValueError(f"--base {base.name!r} has a {base.device.kind!r} device; drift statistics go on a pcm card")
        options = {"g_max_S": base.device.g_max_S if args.g_max_S is None else args.g_max_S}
        if args.n_bins is not None:
            options["n_bins"] = args.n_bins
        fit = fit_drift_csv(args.file, **options)
        card = fit.apply_to_card(base, name=args.name or f"{base.name}-measured-drift")
    print(fit.summary())
    if args.report:
        atomic_write(args.report, json.dumps(fit.to_dict(), indent=2, allow_nan=False) + "\n")
        print(f"wrote fit report to {args.report}")
    return card


def _load_base(spec: str | None) -> Any:
    """The ``--base`` crossbar card (file or preset name), None when not given."""
    return None if spec is None else card_argument(spec, "crossbar", "--base")


def _check_is_file(path: str) -> None:
    import os

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")


def _read_json(path: str, fmt: str) -> Any:
    """Strict JSON (no NaN/Infinity); a clear error for files of the wrong kind."""
    _check_is_file(path)

    def reject(constant: str) -> Any:
        raise ValueError(f"{path}: {constant} is not allowed ({fmt} parameters must be finite numbers)")

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh, parse_constant=reject)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a JSON text file (binary data, e.g. a checkpoint?); --from {fmt} expects JSON") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); --from {fmt} expects a JSON file") from None
    if isinstance(data, dict) and "card_type" in data:
        raise ValueError(f"{path} is already an analogeq device card; --from {fmt} expects {fmt} parameters")
    return data
