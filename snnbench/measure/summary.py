"""Summary statistics of one set of raw timing samples (a pure function of an array)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A row whose IQR / median exceeds this is flagged as noisy.
NOISY_IQR_OVER_MEDIAN = 0.10


@dataclass(frozen=True)
class Summary:
    """Summary statistics of one set of samples (seconds)."""

    n: int
    min: float
    max: float
    mean: float
    median: float
    q1: float
    q3: float
    std: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def cv(self) -> float:
        """Coefficient of variation, std / mean (sample std, ddof=1)."""
        return self.std / self.mean if self.mean > 0 else float("nan")

    @property
    def iqr_over_median(self) -> float:
        return self.iqr / self.median if self.median > 0 else float("nan")

    @property
    def noisy(self) -> bool:
        return bool(self.iqr_over_median > NOISY_IQR_OVER_MEDIAN)


def summarize(samples: Sequence[float]) -> Summary:
    """Summary of ``samples``; quartiles use linear interpolation (numpy's default).

    Raises:
        ValueError: if ``samples`` is empty.
    """
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError("cannot summarise an empty set of samples")
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Summary(
        n=int(x.size),
        min=float(x.min()),
        max=float(x.max()),
        mean=float(x.mean()),
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        std=std,
    )
