"""snnbench: benchmark and profile spiking-neural-network training with JAX and jaxley.

The reference task is the jaxley tutorial "Fitting an SNN to do a classification
task"; :func:`make_task` builds it on jaxley or on a plain-JAX twin. What a user
imports lives here; the subsystems are ``snnbench.task`` (the task),
``snnbench.measure`` (timing, the matrix, result files), ``snnbench.regress``
(regression verdicts), ``snnbench.render`` (tables, figures, the report),
``snnbench.studies`` (trade-offs, profiling, the noise study) and ``snnbench.cli``.
"""

from __future__ import annotations

import importlib
import os
import warnings
from typing import TYPE_CHECKING

__version__ = "0.2.0"

#: Where each public name lives. They are imported on first use, so that ``import
#: snnbench`` (and ``snnbench --help``) does not wait for JAX and jaxley to load.
_EXPORTS = {
    "SnnbenchError": "snnbench.errors",
    "FULL_MATRIX": "snnbench.measure.matrix",
    "QUICK_MATRIX": "snnbench.measure.matrix",
    "Matrix": "snnbench.measure.matrix",
    "Phase": "snnbench.measure.phases",
    "RunOptions": "snnbench.measure.runner",
    "run_matrix": "snnbench.measure.runner",
    "load_results": "snnbench.measure.storage",
    "read_table": "snnbench.measure.storage",
    "PRECISIONS": "snnbench.precision",
    "current_precision": "snnbench.precision",
    "set_precision": "snnbench.precision",
    "Comparison": "snnbench.regress.compare",
    "Criteria": "snnbench.regress.compare",
    # Deprecated alias of ``Criteria`` (the public API listed it); see __getattr__.
    "Policy": "snnbench.regress.compare",
    "compare_frames": "snnbench.regress.compare",
    "BACKENDS": "snnbench.task",
    "Task": "snnbench.task",
    "TaskConfig": "snnbench.task",
    "TrainResult": "snnbench.task",
    "make_task": "snnbench.task",
}

#: Old public names and what they are now.
_ALIASES = {"Policy": "Criteria"}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    import pandas as pd

    from snnbench.regress.compare import Comparison, Criteria


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'snnbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def compare(
    baseline: str | os.PathLike | pd.DataFrame,
    candidate: str | os.PathLike | pd.DataFrame,
    policy: Criteria | None = None,
) -> Comparison:
    """Judge ``candidate`` against ``baseline``: run folders, results trees, CSVs or frames.

    The same verdicts as ``snnbench compare``; render them with
    ``snnbench.render.compare_text.render_text``.
    """
    import pandas as pd

    from snnbench.measure.storage import load_results, rows_to_frame
    from snnbench.regress.compare import compare_frames

    labels = tuple(
        name if isinstance(side, pd.DataFrame) else str(side)
        for name, side in (("baseline", baseline), ("candidate", candidate))
    )
    frames = [
        rows_to_frame(side.to_dict("records"), label)
        if isinstance(side, pd.DataFrame)
        else load_results(side)
        for label, side in zip(labels, (baseline, candidate), strict=True)
    ]
    return compare_frames(frames[0], frames[1], policy, labels=labels)


def use_precision(precision: str) -> None:
    """Deprecated name of :func:`set_precision`."""
    from snnbench.precision import set_precision

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
