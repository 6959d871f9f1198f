"""Performance history: per-configuration series over runs, and the change points in them.

:mod:`~snnbench.history.series` builds the series from a results tree (one point
per run, its raw samples kept) and says which runs it used and which it left
out; :mod:`~snnbench.history.changes` finds where a series moved, with the
magnitude, the runs on either side and what changed in the environment.
"""

from snnbench.history.changes import ChangeCriteria, ChangePoint, find_changes, new_changes
from snnbench.history.series import Exclusion, History, Point, RunRecord, Series, build_history

__all__ = [
    "ChangeCriteria",
    "ChangePoint",
    "Exclusion",
    "History",
    "Point",
    "RunRecord",
    "Series",
    "build_history",
    "find_changes",
    "new_changes",
]
