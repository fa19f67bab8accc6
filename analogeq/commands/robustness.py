"""``analogeq robustness``: run the robustness harness on one substrate, write JSON and Markdown.

    analogeq robustness --substrate float|crossbar|spiking|resistive [--card CARD] [--set KEY=VALUE] [--drift-time 1d] [--checkpoint CKPT]
                        [--suite quick|standard|full] [--out DIR] [--n-examples N] [--seed S]
                        [--gradient full|implicit|truncated] [--truncated-steps T]
                        [--no-reference] [--no-extras] [--batch-size B] [--device cpu|cuda]
                        [--data-root DIR] [--epochs E] [--save-adversarial FILE]

The network is the checkpoint's (``analogeq.checkpoint`` format, e.g. from ``analogeq train``);
without ``--checkpoint`` the core's digits recipe is trained first (about a minute; seeded;
``--epochs`` shortens it; see :func:`train_default_ebm`).
The evaluation runs on the first N test images of the dataset the checkpoint names (digits by
default; the checkpoint's metadata ``dataset`` and ``split_seed`` or ``seed`` choose the data and
its split). For a hardware substrate the same network on the float substrate is the reference
of the transfer attack (``--no-reference`` switches it off). ``--card`` is a card file or a
preset name (``hardware_models.cards``); ``--set adc.bits=4`` (repeatable) changes one field of
it (or of the substrate's default card), validated like a card file. Output: ``DIR/robustness.json`` (schema
``analogeq.robustness/1``, see :mod:`analogeq.robustness.evaluate`) and ``DIR/robustness.md``;
``--save-adversarial FILE`` also writes every run's adversarial inputs, per-example correctness
per draw and attack configs as safetensors (:mod:`analogeq.robustness.saving`).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import DRIFT_TIME_HELP, add_set_argument, hardware_given
from analogeq.commands.interrupt import says_on_interrupt

logger = logging.getLogger(__name__)

#: what trains when no checkpoint is given: the core's digits recipe
#: (:func:`analogeq.train.recipes.digits_dense`: dense EBM 64-512-10, squared-error output layer
#: in the energy, symmetric EqProp, 30 epochs)
DEFAULT_RECIPE = "analogeq.train.recipes.digits_dense"


def register(subparsers: Any) -> None:
    parser = command_parser(subparsers, "robustness", "adversarial/corruption robustness of a network on a substrate (JSON + Markdown)", __doc__)
    parser.add_argument("--substrate", default="float", help="substrate kind: float, crossbar, spiking, resistive or a plugin's (default float)")
    parser.add_argument("--card", default=None, help="device card: a JSON file or a preset name (hardware substrates)")
    add_set_argument(parser)
    parser.add_argument("--drift-time", default=None, help=DRIFT_TIME_HELP)
    parser.add_argument("--checkpoint", default=None, help="trained network (analogeq checkpoint); default: train the default digits EBM")
    parser.add_argument("--suite", choices=("quick", "standard", "full"), default="standard",
                        help="attack suite (default standard: PGD L_inf 20 steps, PGD L2 50 steps x 2 restarts, APGD-CE/DLR 50 steps x 3 restarts, "
                             "APGD-T 9 targets x 50 steps, nearest-class PGD 50 steps x 3 restarts at L2, EOT from K = 2 raised by the "
                             "eot_sufficient gate; quick is a smoke test whose figures are upper bounds)")
    parser.add_argument("--out", default="robustness-report", help="output folder (default robustness-report)")
    parser.add_argument("--n-examples", type=int, default=200, help="test images evaluated (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of attacks, draws and data split (default 0)")
    parser.add_argument("--gradient", choices=("full", "implicit", "truncated"), default=None,
                        help="how white-box attacks differentiate the settling (default: the substrate's: implicit at the fixed point on the crossbar and the resistive network, full elsewhere)")
    parser.add_argument("--truncated-steps", type=int, default=30, help="steps of --gradient truncated (default 30)")
    parser.add_argument("--no-reference", action="store_true", help="no transfer attack from the float substrate")
    parser.add_argument("--no-extras", action="store_true", help="skip corruptions, certification, detection, energy")
    parser.add_argument("--batch-size", type=int, default=512, help="examples per attack batch (default 512)")
    parser.add_argument("--data-root", default=None, help="folder of a file-based dataset (MNIST, CIFAR) the checkpoint names")
    parser.add_argument("--device", default="cpu", help="torch device of the float substrate (default cpu)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the default EBM when no checkpoint is given (default: the recipe's 30)")
    parser.add_argument("--save-adversarial", default=None, metavar="FILE",
                        help="also write the adversarial inputs, per-example correctness and attack configs (safetensors)")
    parser.set_defaults(func=run)


def train_default_ebm(seed: int = 0, epochs: int | None = None, splits=None):
    """Train the core's digits recipe (:data:`DEFAULT_RECIPE`) with ``seed`` on the digits split
    of ``seed``; ``epochs`` overrides the recipe's. Returns (model in eval mode, splits, history)."""
    from analogeq.data import load_dataset
    from analogeq.models import build_model
    from analogeq.train import train
    from analogeq.train.recipes import digits_dense

    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    splits = splits if splits is not None else load_dataset("digits", seed=seed)
    model_config, train_config = digits_dense(seed, epochs=epochs)
    model = build_model(model_config)
    history = train(model, splits, train_config, progress=False)
    return model.eval(), splits, history


def build_for(kind: str, model, *, card=None, seed: int = 0, device: str = "cpu"):
    """``build_substrate(kind, model, options)`` with the kind's options object: ``card`` (a
    file path, preset name or card; None: the kind's default) must be an option of the kind,
    ``seed`` and ``device`` go where the kind has them (:func:`analogeq.substrates.substrate_options`)."""
    given = {} if card is None else {"card": card}
    from analogeq.substrates import build_substrate, substrate_options

    options = substrate_options(kind, given, offered={"seed": seed, "device": device})
    return build_substrate(kind, model, options)


def _stopped(args: argparse.Namespace) -> str:
    return (f"stopped (Ctrl-C): the report (robustness.json and robustness.md in {args.out!r}) is written only "
            "when every attack has run; run the same command again")


@says_on_interrupt(_stopped)
def run(args: argparse.Namespace) -> int:
    from analogeq.robustness.evaluate import evaluate_robustness, to_markdown, write_report
    from analogeq.robustness.suite import get_suite
    from analogeq.contract import GradientSpec
    from analogeq.substrates import build_substrate, substrate_kinds, substrate_options  # torch: imported when run

    if args.n_examples < 1:
        raise ValueError(f"--n-examples must be >= 1, got {args.n_examples}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    gradient = (None if args.gradient is None  # the substrate's default_gradient
                else GradientSpec("truncated", args.truncated_steps) if args.gradient == "truncated"
                else GradientSpec(args.gradient))
    if args.substrate not in substrate_kinds():  # before any training
        raise ValueError(f"--substrate {args.substrate!r} is not available; registered kinds: {substrate_kinds()}")
    # the options (card included) are resolved and validated before any training
    options = substrate_options(args.substrate, hardware_given(args.card, args.drift_time, args.set, kind=args.substrate),
                                offered={"seed": args.seed, "device": args.device})

    if args.checkpoint is not None:
        from analogeq.checkpoint import load_checkpoint
        from analogeq.data import load_dataset

        model, metadata = load_checkpoint(args.checkpoint)
        # the test split of the data the network was trained on: metadata "dataset" (default
        # digits) split with metadata "split_seed" (or "seed", default 0)
        split_seed = int(metadata.get("split_seed", metadata.get("seed", 0)))
        splits = load_dataset(metadata.get("dataset", "digits"), root=args.data_root or metadata.get("data_root"),
                              seed=split_seed)
        splits.check_fits(model.input_shape, model.num_classes, source=args.checkpoint,
                          trained_on=metadata.get("dataset"))
    else:
        logger.info("no --checkpoint: training the default digits EBM (%s epochs)", args.epochs or "the recipe's")
        model, splits, history = train_default_ebm(seed=args.seed, epochs=args.epochs)
        logger.info("default EBM: validation accuracy %.3f", history["final_val_accuracy"])

    substrate = build_substrate(args.substrate, model, options)
    reference = None
    if not args.no_reference and args.substrate != "float":
        reference = build_for("float", model, device=args.device)
    test = splits.test
    n = min(args.n_examples, len(test))
    x, y = test.x[:n], test.y[:n]
    result = evaluate_robustness(substrate, x, y, suite=get_suite(args.suite), reference_substrate=reference,
                                 seed=args.seed, gradient=gradient, batch_size=args.batch_size,
                                 extras=not args.no_extras, keep_adversarial=args.save_adversarial is not None)
    result["network"] = {"checkpoint": args.checkpoint, "config": model.config.to_dict() if hasattr(model, "config") else None}
    json_path, md_path = write_report(result, args.out)
    print(to_markdown(result))
    print(f"wrote {json_path} and {md_path}")
    if args.save_adversarial is not None:
        from analogeq.robustness.saving import save_adversarial

        print(f"wrote {save_adversarial(args.save_adversarial, result, x, y)}")
    return 0
