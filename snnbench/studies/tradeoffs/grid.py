"""What the trade-off study evaluates: the grid of points, and the budget.

A point is (backend, precision, dt, surrogate). The reference is float64 at the
finest dt, per backend and surrogate; the study checks it by refining the step
further (``refinements`` halvings, float64, dense twin). Each point is named by
:func:`point_id`, in file keys (the workers' outputs) and in the table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from snnbench.errors import expect
from snnbench.measure.matrix import Matrix
from snnbench.measure.phases import Phase
from snnbench.precision import PRECISIONS
from snnbench.studies.tradeoffs.budget import Budget  # noqa: F401 - re-exported
from snnbench.studies.tradeoffs.resample import SOURCE_DT_MS, common_step_ms, resample_currents
from snnbench.task.config import SURROGATES, TaskConfig
from snnbench.task.model import BACKENDS

COST_PHASES = (Phase.FORWARD_COMPILE, Phase.FORWARD, Phase.GRAD_COMPILE, Phase.GRAD_STEP)
WEIGHTS_AT = ("initial", "trained")
#: How dt changes: (a) the same continuous input resampled to every dt; (b) the
#: tutorial re-run at each dt with its own random draws.
SCENARIOS = ("resampled", "redrawn")
#: The backend of the reference's refinement checks (jaxley agrees with it to ~1e-14).
CHECK_BACKEND = "dense"
#: Separates a point id from an array name in the workers' ``.npz`` keys.
SEP = "__"


def point_id(backend: str, precision: str, dt_ms: float, surrogate: str = "per_step") -> str:
    """Stable key of one grid point, used in file keys and the table.

    The tutorial's surrogate adds no suffix, so per-step ids read as they always have.
    """
    suffix = "" if surrogate == "per_step" else f"-{surrogate}"
    return f"{backend}-{precision}-dt{dt_ms:g}{suffix}"


@dataclass(frozen=True)
class TradeoffGrid:
    """The points of the study and how they are evaluated.

    The reference is float64 at the finest dt, for each backend and surrogate;
    every dt must be a whole multiple of the finest one (so the reference has a
    sample at every time a coarser grid reports) and a whole multiple or divisor
    of the input grid ``source_dt_ms`` (so step-averaged inputs are exact).
    ``refinements`` halvings below the reference check it (untimed, untrained).
    ``scenarios`` says how dt changes (:data:`SCENARIOS`); ``kernel_na`` is the
    input pulse of every point; ``kernel_sweep_na`` the pulse amplitudes of the
    input-spike sensitivity check (empty: none).
    """

    dts_ms: tuple[float, ...] = (0.25e-3, 0.5e-3, 1e-3, 2e-3, 5e-3)
    precisions: tuple[str, ...] = ("float32", "float64")
    backends: tuple[str, ...] = ("dense",)
    train_backends: tuple[str, ...] = ("dense",)
    surrogates: tuple[str, ...] = SURROGATES
    refinements: int = 2
    scenarios: tuple[str, ...] = ("resampled",)
    kernel_na: tuple[float, ...] = TaskConfig.kernel_na
    kernel_sweep_na: tuple[float, ...] = (505.0, 508.0, 510.0, 520.0, 530.0, 540.0)
    t_max_ms: float = 0.2
    batch_size: int = 256
    seed: int = 1701
    epochs: int = 100
    weights_at: str = "initial"
    source_dt_ms: float = SOURCE_DT_MS
    coincidence_window_ms: float | None = None
    van_rossum_tau_ms: float = 0.01
    platform: str = "cpu"

    def __post_init__(self) -> None:
        expect(len(self.dts_ms) > 0, "dts_ms", "at least one dt (ms)", "none")
        expect(len(set(self.dts_ms)) == len(self.dts_ms), "dts_ms", "distinct values", self.dts_ms)
        for dt in self.dts_ms:  # TaskConfig says precisely what is wrong with a dt
            TaskConfig(dt_ms=dt, t_max_ms=self.t_max_ms, batch_size=self.batch_size)
        for name, allowed in (
            ("precisions", PRECISIONS),
            ("backends", BACKENDS),
            ("surrogates", SURROGATES),
            ("scenarios", SCENARIOS),
        ):
            values = getattr(self, name)
            expect(len(values) > 0, name, f"one or more of {', '.join(allowed)}", "none")
            for value in values:
                expect(value in allowed, name, f"one of {', '.join(allowed)}", value)
        expect(
            "resampled" in self.scenarios,
            "scenarios",
            "a list that includes resampled (the budget and the reference checks use it; "
            "add redrawn to run scenario (b) as well)",
            self.scenarios,
        )
        for value in self.train_backends:
            wanted = f"one of the grid's backends {self.backends}"
            expect(value in self.backends, "train_backends", wanted, value)
        expect(
            "float64" in self.precisions,
            "precisions",
            "a list that includes float64 (the reference runs in float64)",
            self.precisions,
        )
        expect(self.weights_at in WEIGHTS_AT, "weights_at", f"one of {WEIGHTS_AT}", self.weights_at)
        for name in ("epochs", "refinements"):
            value = getattr(self, name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            expect(ok, name, "an integer >= 0", value)
        expect(
            self.weights_at == "initial" or self.epochs > 0,
            "epochs",
            "> 0 when weights_at='trained' (the reference is trained for that many epochs)",
            self.epochs,
        )
        for amplitude in self.kernel_sweep_na:
            ok = isinstance(amplitude, (int, float)) and 0 < amplitude < math.inf
            expect(ok, "kernel_sweep_na", "positive finite amplitudes (nA)", amplitude)
        TaskConfig(dt_ms=self.source_dt_ms, t_max_ms=self.t_max_ms, kernel_na=self.kernel_na)
        n_source = round(self.t_max_ms / self.source_dt_ms)
        for dt in self.dts_ms + self.refinement_dts_ms:
            resample_currents(np.zeros((1, n_source)), self.source_dt_ms, dt)
        common_step_ms(self.dts_ms, self.reference_dt_ms)
        if "jaxley" in self.backends and "per_time" in self.surrogates:
            from snnbench.task.spiking import make_fire, spiking_classes

            make_fire(spiking_classes()[1], "per_time")  # a one-line error on a native Fire

    @property
    def reference_dt_ms(self) -> float:
        return min(self.dts_ms)

    @property
    def refinement_dts_ms(self) -> tuple[float, ...]:
        """The steps below the reference that check it: halvings, coarse to fine."""
        return tuple(self.reference_dt_ms / 2**k for k in range(1, self.refinements + 1))

    @property
    def window_ms(self) -> float:
        """Coincidence window: given, or the coarsest dt (a spike cannot be placed finer)."""
        return self.coincidence_window_ms or max(self.dts_ms)

    @property
    def common_step_ms(self) -> float:
        return common_step_ms(self.dts_ms, self.reference_dt_ms)

    @property
    def chain_dts_ms(self) -> tuple[float, ...]:
        """The halving chain through the reference, coarse to fine: the convergence check's steps.

        Upwards from the reference it follows the grid's own dts while each doubles
        the last; downwards it is the refinements.
        """
        chain = [self.reference_dt_ms]
        while any(abs(dt - 2 * chain[0]) <= 1e-9 * dt for dt in self.dts_ms):
            chain.insert(0, 2 * chain[0])
        return tuple(chain) + self.refinement_dts_ms

    def reference_id(self, backend: str, surrogate: str = "per_step") -> str:
        return point_id(backend, "float64", self.reference_dt_ms, surrogate)

    def matrix(self) -> Matrix:
        """The benchmark matrix that times every point (one batch size, every dt).

        The timed gradient uses the tutorial's per-step surrogate; the per-time one
        adds one multiplication per spike check to the backward pass.
        """
        return Matrix(
            backends=self.backends,
            batch_sizes=(self.batch_size,),
            precisions=self.precisions,
            platforms=(self.platform,),
            dts_ms=tuple(sorted(self.dts_ms)),
            phases=COST_PHASES,
            product=True,
            dt_batch_size=self.batch_size,
            t_max_ms=self.t_max_ms,
        )

    def job(self, **changes: object) -> dict:
        base = {
            "t_max_ms": self.t_max_ms,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "kernel_na": list(self.kernel_na),
            "source_dt_ms": self.source_dt_ms,
            "at": self.weights_at,
            "epochs": self.epochs,
            "reference": {
                "dt_ms": self.reference_dt_ms,
                "backend": self.backends[0],
                "surrogate": self.surrogates[0],
            },
        }
        return {**base, **changes}


QUICK_GRID = TradeoffGrid()
FULL_GRID = TradeoffGrid(backends=("jaxley", "dense"))


def grid_from_options(full: bool = False, **options: object) -> TradeoffGrid:
    """The quick (or full) grid with the options that were given (``None`` = default)."""
    base = FULL_GRID if full else QUICK_GRID
    changes = {k: v for k, v in options.items() if v is not None}
    if changes.get("train_backends") == ("none",):
        changes["train_backends"] = ()
    if "backends" in changes and "train_backends" not in changes:
        changes["train_backends"] = tuple(
            b for b in base.train_backends if b in changes["backends"]
        )
    if changes.get("train_backends") == () and "epochs" not in changes:
        changes["epochs"] = 0
    return TradeoffGrid(**{**asdict(base), **changes})
