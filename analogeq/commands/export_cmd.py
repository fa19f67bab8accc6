"""``analogeq export``: a device card or a trained network into another simulator's format.

    analogeq export CARD       --to aihwkit  OUT.json [--allow-loss] [--set KEY=VALUE]
    analogeq export CARD       --to crosssim OUT.json [--allow-loss] [--rp-ohms]
    analogeq export CHECKPOINT --to spice    OUT.cir  [--card CARD] [--layer L] [--seed N]
                                                      [--drift-time T] [--input-seed N | --inputs X.npy] [--run]
    analogeq export CHECKPOINT --to nir      OUT.nir  [--spiking-card CARD] [--seed N]

CARD is a card file or a preset name (``ideal``, ``pcm``, ...). CHECKPOINT is a trained
network: an analogeq checkpoint (``.safetensors``: its synapses in read order), another
``.safetensors`` file or a ``.pt``/``.pth`` state dict (loaded with ``weights_only=True``: its
2-D weights in natural name order), or a ``.npy``/``.npz`` weight matrix. ``spice`` maps one
weight matrix (the first, or ``--layer`` by index or name) onto the tiles of ``--card`` (default
``pcm``), draws one programming instance (``--seed``), and writes every tile (both arrays of each
differential pair, wire resistances, driver sources set to one input vector) as one ngspice
netlist with documented node names, plus ``OUT.json`` describing the tiles, the node names, the
input and the substrate's own currents for checking; ``--run`` runs ngspice on it (batch mode)
and prints how closely its currents agree. ``aihwkit``/``crosssim`` refuse cards
they cannot express without loss unless ``--allow-loss``. ``nir`` maps a dense EBM checkpoint
onto ``--spiking-card`` (weights quantised, per-neuron mismatch drawn with ``--seed``) and writes
the NIR graph; the card's fields go into node metadata (a conv EBM with average pools is written
as Conv2d/AvgPool2d nodes with ideal neurons, :mod:`hardware_models.export.nir_conv`). ``--set adc.bits=4`` (repeatable)
changes one field of the card the export uses (validated like a card file). See docs/interop.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import add_set_argument, apply_sets, card_argument
from hardware_models.files import atomic_output, atomic_write

FORMATS = ("spice", "aihwkit", "crosssim", "nir")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".npy", ".npz")


def register(subparsers: Any) -> None:
    parser = command_parser(
        subparsers, "export", "write a card as aihwkit/CrossSim parameters or a trained network as SPICE/NIR", __doc__)
    parser.add_argument("source", help="card file or preset name (aihwkit, crosssim); checkpoint (spice, nir)")
    parser.add_argument("--to", dest="fmt", required=True, choices=FORMATS, help="output format")
    parser.add_argument("out", help="output file")
    parser.add_argument("--allow-loss", action="store_true", help="aihwkit/crosssim: write what can be expressed (losses logged)")
    parser.add_argument("--rp-ohms", action="store_true", help="crosssim: write Rp_row/Rp_col in ohms instead of divided by Rmin")
    parser.add_argument("--card", default="pcm", help="spice: crossbar card (file or preset name) to map the layer with (default pcm)")
    parser.add_argument("--layer", default=None, help="spice: weight matrix to map, index or name (default: the first 2-D weight)")
    parser.add_argument("--seed", type=int, default=0, help="spice: seed of the programming draw; nir: seed of the mismatch draw (default 0)")
    parser.add_argument("--drift-time", "--t-s", dest="t_s", default=None,
                        help="spice: read time after programming of the conductances: seconds or 90s, 5min, 1h, 1d, 1y (default: the device's t0)")
    parser.add_argument("--input-seed", type=int, default=0, help="spice: seed of the random input vector in [-1, 1] (default 0)")
    parser.add_argument("--inputs", default=None, help="spice: .npy file with the input vector (n_in values in [-1, 1])")
    parser.add_argument("--run", action="store_true", help="spice: also run ngspice on the netlist and compare its currents with the substrate's")
    parser.add_argument("--spiking-card", default=None, help="nir: spiking card (file or preset name; default spiking-ideal) the network is mapped onto")
    add_set_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kind, obj = classify_source(args.source)
    if args.fmt in ("aihwkit", "crosssim"):
        if kind != "card":
            raise ValueError(
                f"{args.source} is a {kind}; --to {args.fmt} writes a crossbar device card's parameters: "
                "give a card file or preset name as SOURCE"
            )
        if getattr(obj, "card_type", None) != "crossbar":
            raise ValueError(f"{args.source} is a {getattr(obj, 'card_type', '?')!r} card; --to {args.fmt} needs a crossbar card")
        obj = apply_sets(obj, args.set)
        if args.fmt == "aihwkit":
            from hardware_models.export.aihwkit import card_to_aihwkit

            data = card_to_aihwkit(obj, allow_loss=args.allow_loss)
        else:
            from hardware_models.export.crosssim import card_to_crosssim

            data = card_to_crosssim(obj, allow_loss=args.allow_loss, rp_normalized=not args.rp_ohms)
        atomic_write(args.out, json.dumps(data, indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.fmt} parameters of card {obj.name!r} to {args.out}")
        return 0
    if kind != "checkpoint":
        raise ValueError(
            f"{args.source} is a {kind}; --to {args.fmt} exports a trained network: give a checkpoint "
            f"({', '.join(CHECKPOINT_SUFFIXES)}) as SOURCE" + (" and the card with --card" if args.fmt == "spice" else "")
        )
    if args.fmt == "spice":
        return _export_spice(args)
    return _export_nir(args)


# ---- sources -------------------------------------------------------------------------------


def classify_source(source: str) -> tuple[str, Any]:
    """("card", card) for a card file or preset name, ("checkpoint", path) for a checkpoint
    file; a clear error for anything else."""
    if not os.path.exists(source):  # a preset name, else an error listing the presets
        return "card", card_argument(source)
    if os.path.isdir(source):
        raise ValueError(f"{source} is a directory; expected a card file or a checkpoint")
    if source.lower().endswith(CHECKPOINT_SUFFIXES):
        return "checkpoint", source
    with open(source, "rb") as fh:
        head = fh.read(64)
    if head.lstrip().startswith(b"{"):
        return "card", card_argument(source)
    raise ValueError(
        f"{source} is neither a device card (JSON) nor a checkpoint (suffixes {', '.join(CHECKPOINT_SUFFIXES)})"
    )


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def checkpoint_matrices(path: str) -> list[tuple[str, Any]]:
    """The 2-D floating-point arrays of a checkpoint as (name, numpy array), in natural name
    order (``layers.2`` before ``layers.10``). Safetensors and .npy/.npz need no torch;
    .pt/.pth/.ckpt are loaded with ``torch.load(weights_only=True)``."""
    import numpy as np

    lower = path.lower()
    if lower.endswith(".safetensors"):
        synapses = _analogeq_synapse_matrices(path)
        if synapses is not None:
            return synapses
        from safetensors.numpy import load_file

        try:
            tensors = load_file(path)
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None
    elif lower.endswith(".npy"):
        try:
            tensors = {"weights": np.load(path, allow_pickle=False)}
        except ValueError as exc:
            raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
    elif lower.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            tensors = {k: archive[k] for k in archive.files}
    else:
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise ValueError(f"{path}: not a loadable PyTorch state dict ({type(exc).__name__}: {exc})") from None
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
                break
        if not isinstance(state, dict):
            raise ValueError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
        tensors = {k: v.detach().cpu().numpy() for k, v in state.items() if isinstance(v, torch.Tensor)}
    matrices = [
        (name, np.asarray(arr)) for name, arr in tensors.items()
        if np.ndim(arr) == 2 and np.issubdtype(np.asarray(arr).dtype, np.floating)
    ]
    matrices.sort(key=lambda item: _natural_key(item[0]))
    if not matrices:
        raise ValueError(f"{path}: no 2-D floating-point weight matrix found (arrays: {sorted(tensors)})")
    return matrices


def _analogeq_synapse_matrices(path: str) -> list[tuple[str, Any]] | None:
    """For an analogeq checkpoint (:mod:`analogeq.checkpoint`, verified by its SHA-256): the
    weight matrix (n_post, n_pre) of every synapse in read order (``model.all_synapses()``;
    a convolution as its (C_out, C_in k^2) kernel matrix), named by module path. None for a
    safetensors file that is not an analogeq checkpoint."""
    from analogeq.checkpoint import FORMAT, load_checkpoint

    if _safetensors_metadata(path).get("format") != FORMAT:
        return None
    model, _ = load_checkpoint(path)
    if not hasattr(model, "all_synapses"):
        return None
    names = {id(module): name for name, module in model.named_modules()}
    out = []
    for synapse in model.all_synapses():
        matrix = synapse.weight_matrix() if hasattr(synapse, "weight_matrix") else synapse.weight
        out.append((names.get(id(synapse), type(synapse).__name__), matrix.detach().cpu().double().numpy()))
    return out


def _safetensors_metadata(path: str) -> dict[str, Any]:
    """The ``__metadata__`` entries of a safetensors file ({} if absent or unreadable): the
    file starts with the header length (8 bytes, little endian) and a JSON header."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return {}
        size = int.from_bytes(head, "little")
        if size > 100_000_000:
            return {}
        try:
            header = json.loads(fh.read(size).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def select_layer(matrices: list[tuple[str, Any]], layer: str | None, source: str) -> tuple[str, Any]:
    """The matrix chosen by ``--layer`` (index or exact name; default the first)."""
    names = [name for name, _ in matrices]
    if layer is None:
        return matrices[0]
    if re.fullmatch(r"-?\d+", layer):
        index = int(layer)
        if not -len(matrices) <= index < len(matrices):
            raise ValueError(f"--layer {layer}: {source} has {len(matrices)} weight matrices {names}")
        return matrices[index]
    for item in matrices:
        if item[0] == layer:
            return item
    raise ValueError(f"--layer {layer!r}: no such weight matrix in {source}; available: {names}")


def _load_card_arg(spec: str, option: str, card_type: str) -> Any:
    try:
        kind, card = classify_source(spec)
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(f"{option}: {exc}") from None
    if kind != "card":
        raise ValueError(f"{option} {spec!r} is a {kind}; {option} expects a {card_type} card (file or preset name)")
    return card_argument(card, card_type, option)


# ---- spice ---------------------------------------------------------------------------------


def _export_spice(args: argparse.Namespace) -> int:
    import numpy as np

    from hardware_models.crossbar.array import CrossbarArray
    from hardware_models.export.layer_spice import write_layer_netlist

    from hardware_models.units import parse_duration_s

    card = apply_sets(_load_card_arg(args.card, "--card", "crossbar"), args.set)
    drift_t_s = None if args.t_s is None else parse_duration_s("--drift-time", args.t_s)
    name, weights = select_layer(checkpoint_matrices(args.source), args.layer, args.source)
    array = CrossbarArray.from_card(np.asarray(weights, dtype=np.float64), card, seed=args.seed, dtype=np.float64)
    n_in = array.shape[1]
    if args.inputs is not None:
        x = np.load(args.inputs, allow_pickle=False)
        if x.shape != (n_in,):
            raise ValueError(f"--inputs {args.inputs}: shape {x.shape}, layer {name!r} needs ({n_in},)")
    else:
        x = np.random.default_rng(args.input_seed).uniform(-1.0, 1.0, n_in)
    t_s = drift_t_s if drift_t_s is not None else float(array.programmed.t0_s)
    manifest = write_layer_netlist(array, x, args.out, t_s=t_s, title=f"{args.source}:{name} on card {card.name}")
    manifest.update({"checkpoint": args.source, "layer": name, "card": card.name, "seed": args.seed})
    atomic_write(args.out + ".json", json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    rows, cols = array.n_tiles
    print(f"wrote layer {name!r} {tuple(array.shape)} as {rows}x{cols} tile(s) to {args.out} (description: {args.out}.json)")
    if args.run:
        from hardware_models.export.layer_spice import layer_output, run_layer_netlist
        from hardware_models.export.spice import NgspiceError

        try:
            currents = run_layer_netlist(args.out, manifest)
        except NgspiceError as exc:  # missing binary or failed run: one clear line, exit code 2
            raise ValueError(f"--run: {exc}") from None
        y_spice = layer_output(manifest, currents)
        y_sub = np.asarray(manifest["substrate_output"])
        err = float(np.max(np.abs(y_spice - y_sub)) / max(float(np.max(np.abs(y_sub))), 1e-300))
        print(f"ngspice: layer output agrees with the substrate's exact solve to {err:.3g} (max relative to max |y|)")
    return 0


# ---- nir -----------------------------------------------------------------------------------


def _export_nir(args: argparse.Namespace) -> int:
    """A dense EBM checkpoint mapped onto a spiking card (quantised weights, mismatch drawn with
    ``--seed``) as a NIR graph (:func:`hardware_models.export.nir.export_nir`, which documents
    the node metadata), written atomically."""
    try:
        from analogeq.substrates.spiking import DEFAULT_CARD, map_model
        from hardware_models.export.nir import export_nir
    except ImportError as exc:
        raise ValueError(f"--to nir is not available in this installation: {exc}") from None
    from analogeq.checkpoint import FORMAT, load_checkpoint

    if not args.source.lower().endswith(".safetensors") or _safetensors_metadata(args.source).get("format") != FORMAT:
        raise ValueError(
            f"{args.source}: --to nir needs an analogeq checkpoint (.safetensors written by analogeq) of a dense or conv EBM, "
            "because the NIR graph holds the whole network (layers, biases, readout), not one weight matrix"
        )
    card = apply_sets(_load_card_arg(args.spiking_card or DEFAULT_CARD, "--spiking-card", "spiking"), args.set)
    model, _ = load_checkpoint(args.source)
    if getattr(model.config, "kind", None) == "conv_ebm":  # issue 16: Conv2d/AvgPool2d graph, ideal neurons
        from analogeq.substrates.spiking.nir_conv import export_conv_ebm_nir

        with atomic_output(args.out, suffix=".nir") as tmp:
            export_conv_ebm_nir(model, tmp, card=card)
        print(f"wrote the NIR graph of conv EBM {args.source} (Conv2d + AvgPool2d, ideal IF neurons) to {args.out}")
        return 0
    mapped = map_model(model, card, args.seed)
    config = model.config
    settle = {
        "surrogate_steps": int(config.free_steps),
        "surrogate_step_size": float(config.step_size),
        "surrogate_tol": float(config.tol),
    }
    with atomic_output(args.out, suffix=".nir") as tmp:
        export_nir(mapped, card, tmp, settle=settle)
    sizes = "-".join(str(n) for n in mapped.layer_sizes)
    print(f"wrote NIR graph of {args.source} ({sizes}) on spiking card {card.name!r} (mismatch seed {args.seed}) to {args.out}")
    return 0
