"""What was measured: frozen specs and measurements, and the tidy table schema.

Measurements hold raw per-call samples in seconds; every statistic is derived.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from snnbench.errors import expect
from snnbench.measure.phases import Phase
from snnbench.measure.summary import Summary, summarize
from snnbench.precision import PRECISIONS
from snnbench.task.config import TaskConfig
from snnbench.task.model import ALL_BACKENDS
from snnbench.task.parallel import FORMULATIONS

#: The schema of the rows this snnbench writes; bump it when a column changes meaning or
#: disappears, and teach :func:`snnbench.measure.schema.migrate` the step from the last one.
SCHEMA_VERSION = 2
#: JAX platforms a case may ask for.
PLATFORMS = ("cpu", "gpu", "tpu")
#: The backend of the ``overhead`` phase, which times an empty function.
OVERHEAD_BACKEND = "none"
#: How a device-count series holds the work fixed: per device (weak) or in total (strong).
SCALINGS = ("weak", "strong")
#: Noise-free figures a row may carry (from XLA's analyses of the compiled module
#: and from the traced program); ``compare`` checks these exactly, not statistically.
EXACT_METRICS = (
    "jaxpr_eqns", "hlo_instructions", "xla_flops", "xla_bytes_accessed", "xla_argument_bytes",
    "xla_output_bytes", "xla_temp_bytes", "xla_generated_code_bytes", "collectives_per_call",
    "collective_bytes_per_call",
)  # fmt: skip
_TUTORIAL = TaskConfig()
#: The tutorial network's size columns (a case's size, unless it says otherwise).
TUTORIAL_SIZE: dict[str, int] = {
    "n_input": _TUTORIAL.n_input,
    "n_hidden": _TUTORIAL.n_hidden,
    "n_edges": _TUTORIAL.n_edges,
}


@dataclass(frozen=True)
class CaseSpec:
    """One configuration and phase of the benchmark matrix, validated on construction.

    ``phase`` may be given as a string; it is stored as a :class:`Phase`.
    ``batch_size`` is the global batch. A case of a device-count series
    (``scaling`` ``"weak"`` or ``"strong"``) runs data-parallel on a mesh of
    ``devices`` devices over ``processes`` processes, its gradient step written
    as ``data_parallel`` (:mod:`snnbench.task.parallel`); every other case has
    one device, one process, and empty ``scaling`` and ``data_parallel``.
    """

    backend: str
    phase: Phase
    batch_size: int
    precision: str
    platform: str
    dt_ms: float
    t_max_ms: float = 0.2
    devices: int = 1
    scaling: str = ""
    processes: int = 1
    data_parallel: str = ""
    n_input: int = _TUTORIAL.n_input
    n_hidden: int = _TUTORIAL.n_hidden

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase.parse(self.phase))
        backends = (*ALL_BACKENDS, OVERHEAD_BACKEND)
        expect(self.backend in backends, "backend", f"one of {', '.join(backends)}", self.backend)
        for name in ("batch_size", "n_input", "n_hidden", "devices", "processes"):
            value = getattr(self, name)
            positive = isinstance(value, int) and not isinstance(value, bool) and value > 0
            expect(positive, name, "a positive integer", value)
        expect(self.precision in PRECISIONS, "precision", f"one of {PRECISIONS}", self.precision)
        expect(self.platform in PLATFORMS, "platform", f"one of {PLATFORMS}", self.platform)
        for name in ("dt_ms", "t_max_ms"):
            value = getattr(self, name)
            expect(isinstance(value, (int, float)) and value > 0, name, "a positive number", value)
        self._check_layout()

    def _check_layout(self) -> None:
        """Devices, processes, scaling and formulation fit together (and with the phase)."""
        expect(self.scaling in ("", *SCALINGS), "scaling", f"one of {SCALINGS} or ''", self.scaling)
        if not self.scaling:
            expect(
                (self.devices, self.processes, self.data_parallel) == (1, 1, ""),
                "scaling",
                "weak or strong when a case has several devices, processes or a formulation",
                self.scaling,
            )
            return
        expect(
            self.devices % self.processes == 0,
            "devices",
            f"a multiple of the process count ({self.processes})",
            self.devices,
        )
        expect(
            self.batch_size % self.devices == 0,
            "batch_size",
            f"a global batch that divides over {self.devices} devices",
            self.batch_size,
        )
        function = self.phase.function
        expect(function is not None, "phase", "a phase of the forward or gradient step", self.phase)
        # The forward pass reduces nothing across devices: the formulation is a gradient matter.
        wanted = FORMULATIONS if function == "grad_step" else ("",)
        expect(
            self.data_parallel in wanted, "data_parallel", f"one of {wanted}", self.data_parallel
        )

    @property
    def sharded(self) -> bool:
        """Runs on a device mesh (a scaling series), even when the mesh has one device."""
        return bool(self.scaling)

    @property
    def per_device_batch(self) -> int:
        return self.batch_size // self.devices

    @property
    def n_steps(self) -> int:
        return round(self.t_max_ms / self.dt_ms)

    @property
    def n_edges(self) -> int:
        """Synapses (trainable weights) of the network: input->hidden plus hidden->output."""
        return self.n_input * self.n_hidden + self.n_hidden * _TUTORIAL.n_output

    @property
    def is_tutorial_size(self) -> bool:
        return (self.n_input, self.n_hidden) == (_TUTORIAL.n_input, _TUTORIAL.n_hidden)

    @property
    def case_id(self) -> str:
        """A stable, human-readable id; also the pytest test id.

        The network size appears only when it is not the tutorial's, so the ids of
        tutorial-size cases are the same as before the size axis existed.
        """
        size = "" if self.is_tutorial_size else f"-i{self.n_input}-h{self.n_hidden}"
        base = (
            f"{self.backend}-{self.phase}-b{self.batch_size}-{self.precision}"
            f"-{self.platform}-dt{self.dt_ms:g}{size}"
        )
        if not self.sharded:
            return base  # the ids of single-device rows never change
        processes = f"-p{self.processes}" if self.processes > 1 else ""
        formulation = f"-{self.data_parallel}" if self.data_parallel else ""
        return f"{base}-d{self.devices}{processes}-{self.scaling}{formulation}"

    @property
    def key(self) -> tuple:
        """The case's identity, one value per field in :data:`CASE_KEY_COLUMNS` order.

        Every key list, sort order and match between tables comes from this one
        (the phase as its string value, as the ``phase`` column holds it).
        """
        return tuple(
            self.phase.value if name == "phase" else getattr(self, name)
            for name in CASE_KEY_COLUMNS
        )

    @property
    def group_key(self) -> tuple[str, str, int, int]:
        """The process (or ``jax.distributed`` job) that runs this case.

        x64 is process-global and a CPU's device count is fixed when JAX starts,
        so each (platform, precision, devices, processes) runs apart.
        """
        return (self.platform, self.precision, self.devices, self.processes)

    @classmethod
    def from_row(cls, row: Mapping) -> CaseSpec:
        """The case of a table row in the current schema (see
        :func:`snnbench.measure.schema.migrate`); floats rounded to 12 digits, so a
        CSV round trip gives back the same case."""
        return cls(**{name: _FROM_CELL[kind](row[name]) for name, kind in _FIELD_TYPES.items()})

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (the phase as its string value)."""
        out = asdict(self)
        out["phase"] = self.phase.value
        return out


#: The columns of a case's identity: :class:`CaseSpec`'s fields, in declaration order.
CASE_KEY_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CaseSpec))
_FIELD_TYPES = {f.name: str(f.type) for f in dataclasses.fields(CaseSpec)}
_FROM_CELL = {"int": int, "str": str, "Phase": str, "float": lambda v: round(float(v), 12)}


def key_columns(without: tuple[str, ...] = ()) -> list[str]:
    """:data:`CASE_KEY_COLUMNS` less ``without`` (e.g. what a derived ratio pairs across)."""
    unknown = set(without) - set(CASE_KEY_COLUMNS)
    if unknown:
        raise ValueError(f"not case key columns: {sorted(unknown)}")
    return [name for name in CASE_KEY_COLUMNS if name not in without]


#: Statistic columns of a row: column -> :class:`Summary` field.
_STATISTICS = {
    **{f"{name}_s": name for name in ("min", "median", "mean", "max", "q1", "q3", "iqr", "std")},
    **{name: name for name in ("cv", "iqr_over_median", "noisy")},
}
#: Columns every row has, in order (metadata columns from snnbench.machine follow).
ROW_COLUMNS = (
    "schema_version",
    "case_id",
    *CASE_KEY_COLUMNS,
    *("n_edges", "n_steps", "status", "reason", "n_samples", "iterations"),
    *_STATISTICS,
    *("first_s", "samples_per_s", "sample_steps_per_s", "samples_json"),
    *("cpu_median_s", "cpu_samples_json"),
)


@dataclass(frozen=True)
class Measurement:
    """Raw result of one case.

    Attributes:
        spec: what ran.
        status: "ok", "skipped" or "failed".
        reason: why it was skipped or failed (empty when ok).
        samples_s: per-call wall seconds, one per round (each round may average
            ``iterations`` calls).
        cpu_samples_s: per-call process CPU seconds of the same rounds (empty
            when not recorded).
        iterations: calls per round.
        first_s: the very first call (for steady phases: trace + compile + run).
        extra: further noise-free figures (e.g. flops), column name -> value.
    """

    spec: CaseSpec
    status: str = "ok"
    reason: str = ""
    samples_s: tuple[float, ...] = ()
    iterations: int = 1
    first_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    cpu_samples_s: tuple[float, ...] = ()

    @property
    def summary(self) -> Summary | None:
        return summarize(self.samples_s) if self.samples_s else None

    def to_row(self, metadata: dict[str, object]) -> dict[str, object]:
        """One tidy table row: spec, statistics, throughput, raw samples, metadata."""
        s = self.summary
        spec = self.spec
        row: dict[str, object] = {"schema_version": SCHEMA_VERSION, "case_id": spec.case_id}
        row.update(spec.to_dict(), n_edges=spec.n_edges, n_steps=spec.n_steps)
        row.update(status=self.status, reason=self.reason)
        row.update(n_samples=s.n if s else 0, iterations=self.iterations)
        row.update(
            {column: getattr(s, name) if s else None for column, name in _STATISTICS.items()}
        )
        row["first_s"] = self.first_s
        per_call = s.median if s and spec.phase.function and spec.phase.is_steady else None
        row["samples_per_s"] = spec.batch_size / per_call if per_call else None
        row["sample_steps_per_s"] = spec.batch_size * spec.n_steps / per_call if per_call else None
        row["samples_json"] = json.dumps(list(self.samples_s))
        cpu = summarize(self.cpu_samples_s) if self.cpu_samples_s else None
        row["cpu_median_s"] = cpu.median if cpu else None
        row["cpu_samples_json"] = json.dumps(list(self.cpu_samples_s)) if cpu else ""
        row.update(self.extra)
        row.update(metadata)
        return row
