"""The benchmark matrix: which configurations and phases a run measures."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from snnbench.errors import expect
from snnbench.measure.phases import MATRIX_PHASES, Phase
from snnbench.measure.records import OVERHEAD_BACKEND, PLATFORMS, CaseSpec
from snnbench.precision import PRECISIONS
from snnbench.task.config import TaskConfig
from snnbench.task.model import BACKENDS


@dataclass(frozen=True)
class Matrix:
    """Axes of the benchmark matrix, validated on construction.

    The batch-size axis runs at ``dts_ms[0]``; the other dt values run at
    ``dt_batch_size`` only (a cross, not a product) unless ``product`` is set.
    """

    backends: tuple[str, ...] = BACKENDS
    batch_sizes: tuple[int, ...] = (1, 16, 64, 256)
    precisions: tuple[str, ...] = PRECISIONS
    platforms: tuple[str, ...] = ("cpu", "gpu")
    dts_ms: tuple[float, ...] = (1e-3, 2e-3, 5e-3)
    phases: tuple[Phase, ...] = MATRIX_PHASES
    dt_batch_size: int = 64
    product: bool = False
    t_max_ms: float = 0.2

    def __post_init__(self) -> None:
        _check_axis("backends", self.backends, BACKENDS)
        _check_axis("precisions", self.precisions, PRECISIONS)
        _check_axis("platforms", self.platforms, PLATFORMS)
        phases = tuple(Phase.parse(p, "phases") for p in self.phases)
        _check_axis("phases", phases, MATRIX_PHASES)
        object.__setattr__(self, "phases", phases)
        expect(len(self.batch_sizes) > 0, "batch_sizes", "at least one batch size", "none")
        for b in self.batch_sizes:
            expect(isinstance(b, int) and b > 0, "batch_sizes", "positive integers", b)
        expect(len(self.dts_ms) > 0, "dts_ms", "at least one dt", "none")
        for dt in self.dts_ms:  # TaskConfig says precisely what is wrong with a dt
            TaskConfig(dt_ms=dt, t_max_ms=self.t_max_ms)

    def cases(self) -> list[CaseSpec]:
        """Every case, grouped so that one configuration's phases run together."""
        configs = [(b, self.dts_ms[0]) for b in self.batch_sizes]
        if self.product:
            configs = list(itertools.product(self.batch_sizes, self.dts_ms))
        else:
            configs += [(self.dt_batch_size, dt) for dt in self.dts_ms[1:]]
        out = []
        for platform, precision in itertools.product(self.platforms, self.precisions):
            if Phase.OVERHEAD in self.phases:
                out.append(
                    CaseSpec(
                        OVERHEAD_BACKEND,
                        Phase.OVERHEAD,
                        1,
                        precision,
                        platform,
                        self.dts_ms[0],
                        self.t_max_ms,
                    )
                )
            for (batch, dt), backend in itertools.product(dict.fromkeys(configs), self.backends):
                for phase in self.phases:
                    if phase is Phase.OVERHEAD or (phase is Phase.BUILD and backend != "jaxley"):
                        continue
                    out.append(
                        CaseSpec(backend, phase, batch, precision, platform, dt, self.t_max_ms)
                    )
        return out

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (tuples as lists, phases as strings)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = [str(v) for v in value] if key == "phases" else value
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out


def _check_axis(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    shown = ", ".join(str(a) for a in allowed)
    expect(len(values) > 0, name, f"one or more of {shown}", "none")
    for v in values:
        expect(v in allowed, name, f"one of {shown}", v)


QUICK_MATRIX = Matrix()
FULL_MATRIX = Matrix(batch_sizes=(1, 4, 16, 64, 256, 1024), product=True)
