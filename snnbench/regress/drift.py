"""Is it the code or the machine? Context checks between two sets of benchmark rows.

Rows record who measured them (:func:`snnbench.measure.machine.metadata`): the
machine, the library versions, and the measuring conditions (pinning, thread
variables). Before any verdict:

- rows of *one side* must come from one machine, one set of measuring conditions and one set of
  library versions (pooling them would hide a change of context);
- the two sides must come from one machine under the same measuring conditions, or the caller must
  accept the difference explicitly;
- library versions that differ between the sides are listed, so a reader sees
  what changed besides the code (it may be what is under test, e.g. jaxley).

Between separate runs (not interleaved), the yardstick -- a fixed numpy
workload measured next to every case (:mod:`snnbench.measure.yardstick`) --
tells a machine that slowed down from code that did: :func:`yardstick_drift`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from snnbench.errors import SnnbenchError

#: Columns that name the machine: runs that differ here were measured on different hardware.
MACHINE_COLUMNS = ("machine_id", "cpu_model")
#: Columns of the measuring conditions: how the benchmark process ran.
CONDITION_COLUMNS = (
    "pinned_cpu",
    "cpu_count",
    "xla_flags",
    "omp_num_threads",
    "mkl_num_threads",
    "openblas_num_threads",
)
#: Library versions that shape the numbers.
VERSION_COLUMNS = (
    "python_version",
    "jax_version",
    "jaxlib_version",
    "numpy_version",
    "jaxley_version",
    "optax_version",
    "snnbench_version",
)
#: Versions a side may not mix (snnbench's own version may, across commits of one branch).
UNMIXABLE_VERSIONS = VERSION_COLUMNS[:-1]
#: How far the same code moves between quiet processes, per deciding metric, measured
#: on a 2-core VM (docs/regressions.md, "Which time decides"): every verdict of separate
#: runs, one process a side, carries this much besides the code.
PROCESS_SPREAD_PCT = {"cpu": "1-3", "wall": "8-56"}

#: Default tolerance of the yardstick between two separate runs (percent).
DEFAULT_DRIFT_TOLERANCE_PCT = 10.0


@dataclass(frozen=True)
class Context:
    """What differs between the two sides besides the code.

    Attributes:
        machine: ``(column, baseline value, candidate value)`` for machine columns.
        conditions: the same for the measuring-condition columns.
        versions: the same for library versions.
    """

    machine: tuple[tuple[str, str, str], ...] = ()
    conditions: tuple[tuple[str, str, str], ...] = ()
    versions: tuple[tuple[str, str, str], ...] = ()

    def notes(self) -> tuple[str, ...]:
        """One line per kind of difference, for the page's header."""
        out = []
        for title, items in (
            ("different machines (compared anyway, as asked)", self.machine),
            ("different measuring conditions (compared anyway, as asked)", self.conditions),
            ("differs besides the code", self.versions),
        ):
            if items:
                out.append(f"{title}: " + ", ".join(f"{c} {a} → {b}" for c, a, b in items))
        return tuple(out)


def _values(frame: pd.DataFrame, column: str) -> list[str]:
    """The distinct recorded values of ``column`` (missing and empty cells ignored)."""
    if column not in frame.columns:
        return []
    values = frame[column].dropna().astype(str)
    return sorted({_tidy(v) for v in values if v.strip() not in ("", "nan")})


def _tidy(value: str) -> str:
    return value[:-2] if value.endswith(".0") and value[:-2].lstrip("-").isdigit() else value


def _mixed(frame: pd.DataFrame, label: str, columns: Sequence[str], ignore: str) -> None:
    for column in columns:
        if column == ignore:
            continue
        values = _values(frame, column)
        if len(values) > 1:
            raise SnnbenchError(
                f"`{label}` mixes runs with {column} {', '.join(values)}; pooling them would hide "
                f"a change of machine or library; compare one {column} at a time "
                f"(or line them up with --by {column})."
            )


def _differences(
    baseline: pd.DataFrame, candidate: pd.DataFrame, columns: Sequence[str], ignore: str
) -> tuple[tuple[str, str, str], ...]:
    out = []
    for column in columns:
        a, b = _values(baseline, column), _values(candidate, column)
        if column != ignore and a and b and a != b:
            out.append((column, ",".join(a), ",".join(b)))
    return tuple(out)


def check_context(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    labels: tuple[str, str],
    allow_machine_change: bool = False,
    by: str = "",
) -> Context:
    """Refuse mixed sides and (unless allowed) a change of machine or measuring conditions.

    ``by`` names a column whose values are *meant* to differ (``compare --by``).

    Raises:
        SnnbenchError: if a side mixes machines, policies or library versions, or
            the sides come from different machines or policies and
            ``allow_machine_change`` is false.
    """
    for frame, label in ((baseline, labels[0]), (candidate, labels[1])):
        _mixed(frame, label, (*MACHINE_COLUMNS, *CONDITION_COLUMNS, *UNMIXABLE_VERSIONS), by)
    machine = _differences(baseline, candidate, MACHINE_COLUMNS, by)
    conditions = _differences(baseline, candidate, CONDITION_COLUMNS, by)
    if (machine or conditions) and not allow_machine_change:
        column, a, b = (machine or conditions)[0]
        kind = "on another machine" if machine else "under other measuring conditions"
        raise SnnbenchError(
            f"`{labels[1]}` was measured {kind} than `{labels[0]}` ({column} {a} vs {b}); "
            "timings from different machines or settings are not comparable: rerun both on one "
            "machine (snnbench ab), or pass --allow-machine-change to compare anyway.",
            argument="allow_machine_change",
        )
    return Context(machine, conditions, _differences(baseline, candidate, VERSION_COLUMNS, by))


def yardstick_drift(
    baseline_s: Sequence[float], candidate_s: Sequence[float], tolerance: float
) -> str:
    """Why two separate runs cannot be compared, or ``""`` when the machine held still.

    Args:
        baseline_s / candidate_s: the yardstick's wall seconds next to each run of
            one configuration on each side (empty when not recorded).
        tolerance: how far (a fraction) the medians may differ.
    """
    if len(baseline_s) == 0 or len(candidate_s) == 0:
        side = "baseline" if len(baseline_s) == 0 else "candidate"
        return (
            f"no yardstick in the {side} (an older snnbench): a changed machine cannot be told "
            "from changed code"
        )
    ratio = float(pd.Series(candidate_s).median() / pd.Series(baseline_s).median())
    if ratio > 1.0 + tolerance or ratio < 1.0 / (1.0 + tolerance):
        return f"machine drift: the yardstick took {ratio:.2f}x as long"
    return ""


def unsteady(yardsticks_s: Sequence[float], tolerance: float) -> float | None:
    """How far the yardstick moved *within* one side (90th over 10th percentile, or max
    over min for fewer than 10 values), when that exceeds ``1 + tolerance``; else None."""
    if len(yardsticks_s) < 2:
        return None
    values = pd.Series(yardsticks_s, dtype=float)
    if len(values) >= 10:
        spread = float(values.quantile(0.9) / values.quantile(0.1))
    else:
        spread = float(values.max() / values.min())
    return spread if spread > 1.0 + tolerance else None


def machine_drift(
    row_a: Sequence[float],
    row_b: Sequence[float],
    side_a: Sequence[float],
    side_b: Sequence[float],
    tolerance: float,
) -> str:
    """Why separate runs cannot be compared on one row, or ``""``.

    The yardstick next to the row (``row_*``) and over every row of each side
    (``side_*``) must agree between the sides, and each side's yardstick must
    have held still during its run: preemption comes in bursts, so one row's
    short yardstick can miss a load that the run as a whole shows.
    """
    found = yardstick_drift(row_a, row_b, tolerance)
    if found or not side_a or not side_b:
        return found
    found = yardstick_drift(side_a, side_b, tolerance)
    if found:
        return found.replace("took", "took (over the whole run)")
    for name, values in (("baseline", side_a), ("candidate", side_b)):
        spread = unsteady(values, tolerance)
        if spread is not None:
            return f"machine drift: the yardstick varied {spread:.2f}x during the {name} run"
    return ""
