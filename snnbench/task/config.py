"""The reference task's configuration: the tutorial's values, validated on construction."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from snnbench.errors import expect
from snnbench.precision import PRECISIONS

# Compartment length that makes the membrane area exactly 1e5 um^2 at radius 1 um,
# so 1 nA of point current is 1 uA/cm^2 of membrane current (the tutorial's choice).
COMPARTMENT_LENGTH_UM = 1.0 / (2 * math.pi * 1e-5)
COMPARTMENT_RADIUS_UM = 1.0
MEMBRANE_CAPACITANCE_UF_PER_CM2 = 1.0  # jaxley's default
#: Matmul precisions the dense twin may declare (``jax.lax.Precision`` names, lower case).
#: "highest" is full float32 (or float64) on every device, so the twin stays an oracle;
#: "default" lets the device choose (TF32 on NVIDIA GPUs since Ampere, bf16 passes on TPU).
MATMUL_PRECISIONS = ("highest", "default")

#: How the surrogate derivative's size depends on the step. ``per_step`` is the
#: tutorial's: one fixed-size derivative per step, so the surrogate gradient summed
#: over a time interval grows like 1 / dt. ``per_time`` scales it by
#: ``dt / SURROGATE_REFERENCE_DT_MS``, so its sum per unit time does not depend on dt.
SURROGATES = ("per_step", "per_time")
#: The step at which both scalings are the same: the tutorial's dt (ms).
SURROGATE_REFERENCE_DT_MS = 1e-3


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TaskConfig:
    """The reference SNN task; defaults reproduce the jaxley tutorial.

    Units are jaxley's: ms, mV, uS, nA, S/cm^2. ``input_rate_hz * dt_ms`` is the
    per-step spike probability, exactly as the tutorial computes it. ``surrogate``
    is the surrogate derivative's dt scaling (one of :data:`SURROGATES`); the
    default, ``per_step``, is the tutorial's. ``matmul_precision`` applies to the
    dense twin's two matmuls only (jaxley's network has none); see
    :data:`MATMUL_PRECISIONS`.
    """

    n_input: int = 100
    n_hidden: int = 4
    n_output: int = 2
    dt_ms: float = 1e-3
    t_max_ms: float = 0.2
    batch_size: int = 256
    seed: int = 1701
    input_rate_hz: float = 5.0
    kernel_na: tuple[float, ...] = (508.0, 508.0)
    leak_conductance_s_per_cm2: float = 10e-3
    leak_reversal_mv: float = 0.0
    threshold_mv: float = 1.0
    reset_mv: float = 0.0
    v_init_mv: float = 0.0
    synapse_decay: float = 10.0
    weight_mean: float = 0.0
    weight_std: float = 10.0
    learning_rate: float = 0.1
    precision: str = "float64"
    #: Test-only: extra compiled work in every time step, as a fraction of the step's
    #: cost (0.2 is about +20 %); outputs and gradients stay bit for bit the same
    #: (:mod:`snnbench.task.slowdown`). The noise study's injected regression.
    slowdown: float = 0.0
    #: Test-only: Python work while the forward pass is traced, as a fraction of
    #: trace+lower (:mod:`snnbench.task.slowdown`); the compiled program is unchanged.
    trace_slowdown: float = 0.0
    #: Test-only: a never-taken branch that grows the compiled program, as a fraction
    #: of the forward pass's XLA compile time (:mod:`snnbench.task.slowdown`).
    compile_slowdown: float = 0.0
    surrogate: str = "per_step"
    matmul_precision: str = "highest"

    def __post_init__(self) -> None:
        for name in ("n_input", "n_hidden", "n_output", "batch_size"):
            value = getattr(self, name)
            expect(_is_int(value) and value > 0, name, "a positive integer", value)
        expect(_is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0", self.seed)
        for name in ("dt_ms", "t_max_ms", "learning_rate", "weight_std", "synapse_decay"):
            value = getattr(self, name)
            expect(_is_number(value) and 0 < value < math.inf, name, "a positive number", value)
        for name in (
            "leak_conductance_s_per_cm2",
            "input_rate_hz",
            "slowdown",
            "trace_slowdown",
            "compile_slowdown",
        ):
            value = getattr(self, name)
            expect(_is_number(value) and 0 <= value < math.inf, name, "a number >= 0", value)
        for name in ("leak_reversal_mv", "threshold_mv", "reset_mv", "v_init_mv", "weight_mean"):
            value = getattr(self, name)
            expect(_is_number(value) and math.isfinite(value), name, "a finite number", value)
        expect(
            isinstance(self.kernel_na, tuple)
            and len(self.kernel_na) > 0
            and all(_is_number(k) and math.isfinite(k) for k in self.kernel_na),
            "kernel_na",
            "a non-empty tuple of finite numbers",
            self.kernel_na,
        )
        expect(self.precision in PRECISIONS, "precision", f"one of {PRECISIONS}", self.precision)
        expect(
            self.surrogate in SURROGATES,
            "surrogate",
            f"one of {', '.join(SURROGATES)}",
            self.surrogate,
        )
        expect(
            self.matmul_precision in MATMUL_PRECISIONS,
            "matmul_precision",
            f"one of {', '.join(MATMUL_PRECISIONS)}",
            self.matmul_precision,
        )
        expect(
            self.dt_ms <= self.t_max_ms and _divides(self.dt_ms, self.t_max_ms),
            "dt_ms",
            f"a step that divides t_max_ms={self.t_max_ms} into a whole number of steps",
            self.dt_ms,
        )
        expect(
            self.input_rate_hz * self.dt_ms <= 1.0,
            "input_rate_hz",
            f"at most 1 / dt_ms = {1 / self.dt_ms:g} (it is a per-step probability times 1/dt)",
            self.input_rate_hz,
        )

    @property
    def n_steps(self) -> int:
        """Input time bins: ``t_max_ms / dt_ms``."""
        return round(self.t_max_ms / self.dt_ms)

    @property
    def n_integration_steps(self) -> int:
        """Steps jaxley's ``integrate`` takes for ``t_max``: ``int(t_max // dt + 1)``.

        Usually one more than :attr:`n_steps` (the last step then gets zero input
        current); equal to it where floating-point floor division rounds down (e.g.
        ``0.3 // 0.1 == 2.0``). The recorded traces have ``n_integration_steps + 1``
        points with the initial state.
        """
        return int(self.t_max_ms // self.dt_ms + 1)

    @property
    def n_edges(self) -> int:
        """Trainable synaptic weights: input->hidden plus hidden->output."""
        return self.n_input * self.n_hidden + self.n_hidden * self.n_output

    def replace(self, **changes: object) -> TaskConfig:
        """A copy with ``changes`` applied (and validated)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        expect(not unknown, "TaskConfig field", "a TaskConfig field name", ", ".join(unknown))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["kernel_na"] = list(self.kernel_na)
        return out


def _divides(dt: float, total: float) -> bool:
    steps = total / dt
    return abs(steps - round(steps)) <= 1e-9 * max(1.0, steps)
