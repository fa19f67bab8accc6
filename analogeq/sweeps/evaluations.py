"""What a sweep measures at each point: the registry of evaluations, known by name.

An evaluation is a function ``fn(ctx: PointContext) -> dict[str, float]`` registered under a
name that sweep specs use (``[evaluations.<name>]``). It declares the parameters it takes (a
default and a constraint of :mod:`hardware_models.params` each), whether it runs on a substrate
(then the sweep's ``substrates`` multiply its points) and whether it needs the trained network.

A spec only *names* an evaluation; it never says which code to import. Names come from:

1. the built-in evaluations (:mod:`analogeq.sweeps.builtin_evaluations`, registered when
   ``analogeq.sweeps`` is imported);
2. :func:`register_evaluation`, called by Python code in this process (tests, notebooks; with
   the ``processes`` and ``dask`` executors the workers do not see these, use 3);
3. installed plugins: an entry point of group ``analogeq.sweep_evaluations`` whose name is the
   evaluation's name and whose object is a callable returning an :class:`Evaluation`
   (the same convention as the substrate group ``analogeq.substrates``). It is loaded the
   first time its name is looked up, in the driver and in every worker::

       [project.entry-points."analogeq.sweep_evaluations"]
       my_metric = "my_package.sweeps:my_metric_evaluation"

An unknown name is one ValueError line listing the registered names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable

from hardware_models.params import Real

if TYPE_CHECKING:  # pragma: no cover - type hints only
    from analogeq.sweeps.context import PointContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "Evaluation",
    "Param",
    "SUBSTRATE_PARAMS",
    "evaluation_names",
    "get_evaluation",
    "plugin_entry_points",
    "register_evaluation",
]

ENTRY_POINT_GROUP = "analogeq.sweep_evaluations"


@dataclass(frozen=True)
class Param:
    """A parameter of an evaluation: its default and its constraint, called as
    ``check(path, value)`` (an ``Integer``, ``Real``, ``OneOf`` or ``Boolean`` of
    :mod:`hardware_models.params`, or any callable of that form)."""

    default: Any
    check: Callable[..., Any]
    doc: str = ""


#: parameters every substrate-using evaluation accepts; passed to ``build_substrate`` when the
#: substrate's options take them (a floating-point substrate ignores drift)
SUBSTRATE_PARAMS: dict[str, Param] = {
    "drift_time_s": Param(3600.0, Real(minimum=0.0), "time between programming and inference [s]"),
}


@dataclass(frozen=True)
class Evaluation:
    """A registered evaluation (see the module docstring). ``fn`` must be a module-level
    function so that process pools and Dask workers can import it."""

    name: str
    fn: Callable[["PointContext"], dict[str, Any]]
    params: dict[str, Param] = field(default_factory=dict)
    uses_substrate: bool = False
    needs_network: bool = False
    description: str = ""
    #: the metrics reports plot and tabulate by default (all numeric metrics when empty)
    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.replace("_", "").isalnum():
            raise ValueError(f"evaluation name must be letters, digits and underscores, got {self.name!r}")
        if self.needs_network and not self.uses_substrate:
            raise ValueError(f"evaluation {self.name!r}: a network evaluation runs on a substrate (uses_substrate=True)")

    def all_params(self) -> dict[str, Param]:
        """Its own parameters plus the substrate parameters when it runs on a substrate."""
        if self.uses_substrate:
            return {**SUBSTRATE_PARAMS, **self.params}
        return dict(self.params)

    def resolve_params(self, given: dict[str, Any], *, path: str) -> dict[str, Any]:
        """Defaults filled in, every value validated; unknown names raise ValueError naming them."""
        allowed = self.all_params()
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise ValueError(f"{path}.{unknown[0]}: unknown parameter of evaluation {self.name!r}; allowed: {sorted(allowed)}")
        return {name: p.check(f"{path}.{name}", given.get(name, p.default)) for name, p in sorted(allowed.items())}


_REGISTRY: dict[str, Evaluation] = {}


def register_evaluation(
    name: str,
    fn: Callable[["PointContext"], dict[str, Any]],
    *,
    params: dict[str, Param] | None = None,
    uses_substrate: bool = False,
    needs_network: bool = False,
    description: str = "",
    metrics: tuple[str, ...] = (),
) -> Evaluation:
    """Register ``fn`` under ``name`` in this process (replacing an earlier one of that name)."""
    ev = Evaluation(name, fn, dict(params or {}), uses_substrate, needs_network, description, tuple(metrics))
    _REGISTRY[name] = ev
    return ev


def plugin_entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed entry points of group :data:`ENTRY_POINT_GROUP`, by name (none loaded)."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _load_plugin(ep: metadata.EntryPoint) -> Evaluation:
    try:
        ev = ep.load()()
    except Exception as exc:  # a broken plugin: one line naming it
        raise ValueError(f"evaluation {ep.name!r}: its plugin entry point {ep.value!r} (group {ENTRY_POINT_GROUP!r}) "
                         f"failed to load: {type(exc).__name__}: {exc}") from None
    if not isinstance(ev, Evaluation) or ev.name != ep.name:
        raise ValueError(f"evaluation {ep.name!r}: its plugin entry point {ep.value!r} must return an Evaluation "
                         f"named {ep.name!r}, got {ev!r:.80}")
    _REGISTRY[ev.name] = ev
    return ev


def get_evaluation(name: str) -> Evaluation:
    """The evaluation registered as ``name`` (a plugin's is loaded on first use)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    plugins = plugin_entry_points()
    if isinstance(name, str) and name in plugins:
        return _load_plugin(plugins[name])
    raise ValueError(f"unknown evaluation {name!r}; registered: {sorted(set(_REGISTRY) | set(plugins))} "
                     f"(plugins add theirs as entry points of group {ENTRY_POINT_GROUP!r})")


def evaluation_names() -> list[str]:
    """Every registered name: built in, registered in this process, and installed plugins."""
    return sorted(set(_REGISTRY) | set(plugin_entry_points()))
