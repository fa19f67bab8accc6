"""Run the client-form NIR graph of a mapped spiking EBM in snnTorch or Norse (their own importers).

Used by ``bench_spiking.py`` (keys ``nir_snntorch_agreement``, ``nir_norse_agreement``) and by
``tests/test_nir_clients.py``. The graph comes from
:func:`hardware_models.export.nir_clients.export_nir_for_client`; both clients run it for
``free_steps`` client steps (the card's ``t_free_s``: the same simulated time as the spiking
substrate) with the image as a constant input, and the scores are the output summed over the
last ``decode_window_steps`` steps (the substrate's decoding window).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from hardware_models.export.nir_clients import export_nir_for_client


def client_module(graph, client: str) -> torch.nn.Module:
    """The torch module ``client``'s own NIR importer builds from ``graph``."""
    if client == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):  # it prints one line per recurrent search
            return import_from_nir(graph)
    if client == "norse":
        import norse.torch

        return norse.torch.from_nir(graph, dt=float(graph.metadata["simulated_dt_s"]))
    raise ValueError(f"client must be 'snntorch' or 'norse', got {client!r}")


@torch.no_grad()
def run_nir_graph(graph, x: torch.Tensor, client: str) -> np.ndarray:
    """Scores (B, num_classes) of ``graph`` run in ``client`` on images ``x``."""
    net = client_module(graph, client)
    if client == "snntorch":
        import snntorch.utils

        snntorch.utils.reset(net)  # init_hidden neurons keep their membrane between calls
    steps = int(graph.metadata["free_steps"])
    window = int(graph.metadata["decode_window_steps"])
    xf = x.reshape(x.shape[0], -1).float()
    state, scores = None, torch.zeros(())
    for t in range(steps):
        out, state = net(xf, state)
        if t >= steps - window:
            scores = scores + out
    return scores.double().numpy()


def client_agreement(mapped, card, x: torch.Tensor, reference: torch.Tensor, client: str, substeps: int = 8) -> float:
    """Fraction of ``x`` on which ``client``'s argmax equals ``reference`` (predicted classes)."""
    graph = export_nir_for_client(mapped, card, client, substeps=substeps, allow_loss=True)
    pred = torch.as_tensor(run_nir_graph(graph, x, client).argmax(axis=1))
    return float((pred == reference.cpu()).float().mean())
