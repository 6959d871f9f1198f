"""snnbench: benchmark and profile spiking-neural-network training with JAX and jaxley.

The reference task is the jaxley tutorial "Fitting an SNN to do a classification
task"; :func:`make_task` builds it on jaxley or on a plain-JAX twin. What a user
imports lives here; the subsystems are ``snnbench.task`` (the task),
``snnbench.measure`` (timing, the matrix, result files), ``snnbench.regress``
(regression verdicts), ``snnbench.render`` (tables, figures, the report),
``snnbench.studies`` (trade-offs, profiling, the noise study) and ``snnbench.cli``.
"""

from __future__ import annotations

import os
import warnings

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, Matrix
from snnbench.measure.phases import Phase
from snnbench.measure.runner import RunOptions, run_matrix
from snnbench.measure.storage import load_results, read_table
from snnbench.precision import PRECISIONS, current_precision, set_precision
from snnbench.regress.compare import Comparison, Criteria, compare_frames
from snnbench.task import BACKENDS, Task, TaskConfig, TrainResult, make_task

#: Deprecated alias of :class:`Criteria` (the public API listed it); use ``Criteria``.
Policy = Criteria

__version__ = "0.2.0"


def compare(
    baseline: str | os.PathLike | pd.DataFrame,
    candidate: str | os.PathLike | pd.DataFrame,
    policy: Criteria | None = None,
) -> Comparison:
    """Judge ``candidate`` against ``baseline``: run folders, results trees, CSVs or frames.

    The same verdicts as ``snnbench compare``; render them with
    ``snnbench.render.compare_text.render_text``.
    """
    frames = [
        side if isinstance(side, pd.DataFrame) else load_results(side)
        for side in (baseline, candidate)
    ]
    labels = tuple(
        "baseline" if isinstance(side, pd.DataFrame) else str(side)
        for side in (baseline, candidate)
    )
    return compare_frames(frames[0], frames[1], policy, labels=labels)


def use_precision(precision: str) -> None:
    """Deprecated name of :func:`set_precision`."""
    warnings.warn(
        "snnbench.use_precision is deprecated; use snnbench.set_precision",
        DeprecationWarning,
        stacklevel=2,
    )
    set_precision(precision)


__all__ = [
    "BACKENDS",
    "FULL_MATRIX",
    "PRECISIONS",
    "QUICK_MATRIX",
    "Comparison",
    "Matrix",
    "Phase",
    "Criteria",
    "Policy",
    "RunOptions",
    "SnnbenchError",
    "Task",
    "TaskConfig",
    "TrainResult",
    "compare",
    "compare_frames",
    "current_precision",
    "load_results",
    "make_task",
    "read_table",
    "run_matrix",
    "set_precision",
    "use_precision",
]
