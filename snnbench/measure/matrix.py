"""The benchmark matrix: which configurations and phases a run measures."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from snnbench.errors import expect
from snnbench.measure.phases import MATRIX_PHASES, Phase, Stage
from snnbench.measure.records import OVERHEAD_BACKEND, PLATFORMS, SCALINGS, CaseSpec
from snnbench.precision import PRECISIONS
from snnbench.task.config import TaskConfig
from snnbench.task.model import ALL_BACKENDS, BACKENDS
from snnbench.task.parallel import FORMULATIONS

_TUTORIAL = TaskConfig()


@dataclass(frozen=True)
class Matrix:
    """Axes of the benchmark matrix, validated on construction.

    The batch-size axis runs at ``dts_ms[0]``; the other dt values run at
    ``dt_batch_size`` only (a cross, not a product) unless ``product`` is set.

    With ``scalings`` (``"weak"``, ``"strong"``) the matrix is a device-count
    series instead: each configuration runs on a ``("batch",)`` mesh of every
    count in ``device_counts``. Weak scaling keeps the batch per device fixed
    (a batch size ``b`` runs the global batch ``b * devices``); strong scaling
    keeps the global batch fixed (``b`` must divide by every count). Only the
    phases of the forward pass and the gradient step run (``build`` and
    ``overhead`` do not depend on the device count); each gradient phase runs
    once per formulation in ``data_parallel``. With ``processes`` > 1 every
    count above 1 runs as one ``jax.distributed`` job of that many processes,
    and the count 1 (the baseline) in one process.

    Network sizes (every ``n_inputs`` x ``n_hiddens`` pair) run at every batch
    size and the first dt; the other dt values run at the first size only (a
    device-count series runs the first size). Staging phases (build,
    trace+lower, compile) run at every configuration when
    ``staging_at_every_batch`` is set; otherwise only at ``dt_batch_size`` and
    the first dt, once per network size: what they time depends on the
    program's structure, not on its batch size (docs/gpu.md has the measurement).
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
    device_counts: tuple[int, ...] = (1,)
    scalings: tuple[str, ...] = ()
    data_parallel: tuple[str, ...] = ("grouped",)
    processes: int = 1
    n_inputs: tuple[int, ...] = (_TUTORIAL.n_input,)
    n_hiddens: tuple[int, ...] = (_TUTORIAL.n_hidden,)
    staging_at_every_batch: bool = True

    def __post_init__(self) -> None:
        _check_axis("backends", self.backends, ALL_BACKENDS)
        _check_axis("precisions", self.precisions, PRECISIONS)
        _check_axis("platforms", self.platforms, PLATFORMS)
        phases = tuple(Phase.parse(p, "phases") for p in self.phases)
        _check_axis("phases", phases, MATRIX_PHASES)
        object.__setattr__(self, "phases", phases)
        for name in ("batch_sizes", "n_inputs", "n_hiddens", "device_counts"):
            values = getattr(self, name)
            expect(len(values) > 0, name, "one or more positive integers", "none")
            for v in values:
                expect(_positive_int(v), name, "positive integers", v)
        expect(len(self.dts_ms) > 0, "dts_ms", "at least one dt", "none")
        for dt in self.dts_ms:  # TaskConfig says precisely what is wrong with a dt
            TaskConfig(dt_ms=dt, t_max_ms=self.t_max_ms)
        self._check_scaling()

    def _check_scaling(self) -> None:
        counts = self.device_counts
        expect(len(set(counts)) == len(counts), "device_counts", "distinct counts", counts)
        expect(_positive_int(self.processes), "processes", "a positive integer", self.processes)
        if not self.scalings:
            expect(
                tuple(counts) == (1,) and self.processes == 1,
                "scalings",
                f"one or more of {', '.join(SCALINGS)} when several devices or processes run",
                "none",
            )
            return
        _check_axis("scalings", self.scalings, SCALINGS)
        _check_axis("data_parallel", self.data_parallel, FORMULATIONS)
        for n in counts:
            expect(
                n == 1 or n % self.processes == 0,
                "device_counts",
                f"1 or multiples of the process count ({self.processes})",
                n,
            )
        if "strong" in self.scalings:
            for b in self.batch_sizes:
                bad = [n for n in counts if b % n]
                expect(
                    not bad,
                    "batch_sizes",
                    f"global batches that divide by every device count {list(counts)} "
                    "(strong scaling splits one global batch)",
                    b,
                )
        if not any(p.function is not None for p in self.phases):
            expect(False, "phases", "forward or gradient phases in a scaling series", "none")

    def configurations(self) -> list[tuple[int, float]]:
        """The (batch size, dt) pairs, in order, without repeats."""
        configs = [(b, self.dts_ms[0]) for b in self.batch_sizes]
        if self.product:
            configs = list(itertools.product(self.batch_sizes, self.dts_ms))
        else:
            configs += [(self.dt_batch_size, dt) for dt in self.dts_ms[1:]]
        return list(dict.fromkeys(configs))

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """``(n_input, n_hidden)`` pairs, in axis order."""
        return list(itertools.product(self.n_inputs, self.n_hiddens))

    def sized_configurations(self) -> list[tuple[int, float, tuple[int, int]]]:
        """``(batch size, dt, (n_input, n_hidden))`` of every configuration, in run order."""
        first_dt, first_size = self.dts_ms[0], self.sizes[0]
        out = [(b, first_dt, size) for size in self.sizes for b in self.batch_sizes]
        out += [(b, dt, first_size) for b, dt in self.configurations() if dt != first_dt]
        return list(dict.fromkeys(out))

    def _stages_here(self, batch: int, dt: float) -> bool:
        """Whether staging phases run at this configuration (see the class docstring)."""
        if self.staging_at_every_batch:
            return True
        staging_batch = self.dt_batch_size if self.dt_batch_size in self.batch_sizes else None
        staging_batch = staging_batch or self.batch_sizes[-1]
        return batch == staging_batch and dt == self.dts_ms[0]

    def cases(self) -> list[CaseSpec]:
        """Every case, grouped so that one configuration's phases run together."""
        if self.scalings:
            return self._scaling_cases()
        configs = self.sized_configurations()
        out = []
        for platform, precision in itertools.product(self.platforms, self.precisions):
            at = {"precision": precision, "platform": platform, "t_max_ms": self.t_max_ms}
            if Phase.OVERHEAD in self.phases:
                out.append(
                    CaseSpec(OVERHEAD_BACKEND, Phase.OVERHEAD, 1, dt_ms=self.dts_ms[0], **at)
                )
            for (batch, dt, (n_input, n_hidden)), backend in itertools.product(
                configs, self.backends
            ):
                staging = self._stages_here(batch, dt)
                sized = {**at, "dt_ms": dt, "n_input": n_input, "n_hidden": n_hidden}
                for phase in self.phases:
                    if phase is Phase.OVERHEAD or (
                        phase.stage is Stage.BUILD and backend != "jaxley"
                    ):
                        continue
                    if (phase.is_staging or phase.stage is Stage.BUILD) and not staging:
                        continue
                    out.append(CaseSpec(backend, phase, batch, **sized))
        return out

    def _scaling_cases(self) -> list[CaseSpec]:
        """Device-count series: a configuration's counts together, so one shard keeps them."""
        out = []
        phases = [p for p in self.phases if p.function is not None]
        axes = itertools.product(
            self.platforms, self.precisions, self.scalings, self.configurations(), self.backends
        )
        for platform, precision, scaling, (batch, dt), backend in axes:
            for n in self.device_counts:
                global_batch = batch * n if scaling == "weak" else batch
                layout = {
                    "precision": precision,
                    "platform": platform,
                    "dt_ms": dt,
                    "t_max_ms": self.t_max_ms,
                    "devices": n,
                    "scaling": scaling,
                    "processes": self.processes if n > 1 else 1,
                    "n_input": self.sizes[0][0],
                    "n_hidden": self.sizes[0][1],
                }
                for phase in phases:
                    forms = self.data_parallel if phase.function == "grad_step" else ("",)
                    out += [
                        CaseSpec(backend, phase, global_batch, data_parallel=form, **layout)
                        for form in forms
                    ]
        return out

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (tuples as lists, phases as strings)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = [str(v) for v in value] if key == "phases" else value
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_axis(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    shown = ", ".join(str(a) for a in allowed)
    expect(len(values) > 0, name, f"one or more of {shown}", "none")
    for v in values:
        expect(v in allowed, name, f"one of {shown}", v)


#: The default run: the tutorial's network, staging timed once per (device, precision).
QUICK_MATRIX = Matrix(staging_at_every_batch=False)
#: ``--full``: more batch sizes, every dt at every batch size, staging everywhere,
#: and hidden widths up to 256 (26 112 synapses) at every batch size. The largest
#: jaxley gradient steps (about 4 KiB per sample and synapse in float32) exceed a
#: 24 GiB machine; the harness's memory check skips them with the reason.
FULL_MATRIX = Matrix(
    batch_sizes=(1, 4, 16, 64, 256, 1024), product=True, n_hiddens=(4, 16, 64, 256)
)
#: ``--size-sweep``: cost against network size, one batch size, float32. Hidden widths
#: up to 1024 (104 448 synapses) fit a 2-core, 24 GiB CPU (jaxley's gradient step
#: there takes about 7-12 s); a GPU can go further with ``--n-hidden``.
SIZE_SWEEP_MATRIX = Matrix(
    batch_sizes=(16,),
    precisions=("float32",),
    dts_ms=(1e-3,),
    dt_batch_size=16,
    n_hiddens=(4, 16, 64, 256, 1024),
)
