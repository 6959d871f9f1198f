"""The error budget a trade-off point must meet (no JAX here: the CLI's help reads it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnbench.errors import expect


@dataclass(frozen=True)
class Budget:
    """Error budget; ``None`` leaves a metric unconstrained.

    Attributes:
        max_voltage_rmse_mv: output-voltage RMSE on the common time grid (mV).
        min_grad_cosine: cosine similarity of the gradient to the reference's.
        max_accuracy_drop: reference accuracy minus the accuracy that weights
            trained at this setting reach on the reference simulation (fraction).
        cost_column: the time to minimise (``grad_step_s`` or ``forward_s``).
    """

    max_voltage_rmse_mv: float | None = 0.01
    min_grad_cosine: float | None = 0.99
    max_accuracy_drop: float | None = 0.02
    cost_column: str = "grad_step_s"

    def __post_init__(self) -> None:
        for name in ("max_voltage_rmse_mv", "max_accuracy_drop"):
            value = getattr(self, name)
            ok = value is None or (value >= 0 and math.isfinite(value))
            expect(ok, name, "a finite number >= 0", value)
        expect(
            self.min_grad_cosine is None or -1 <= self.min_grad_cosine <= 1,
            "min_grad_cosine",
            "a number in [-1, 1]",
            self.min_grad_cosine,
        )
        expect(
            self.cost_column in ("grad_step_s", "forward_s"),
            "cost_column",
            "grad_step_s or forward_s",
            self.cost_column,
        )

    def failures(self, row, trained: bool = True) -> list[str]:
        """Why ``row`` misses the budget (empty if it meets it); a missing figure fails.

        ``trained=False`` for a point whose backend was not trained: it has no
        accuracy to judge, so the accuracy limit does not apply to it (the page
        says so) instead of failing every such point, the reference included.
        """
        import pandas as pd

        out = []
        checks = (
            ("voltage_rmse_mv", self.max_voltage_rmse_mv, "<="),
            ("grad_cosine", self.min_grad_cosine, ">="),
            ("accuracy_drop", self.max_accuracy_drop if trained else None, "<="),
        )
        for column, limit, sense in checks:
            if limit is None:
                continue
            value = row.get(column, float("nan"))
            ok = value <= limit if sense == "<=" else value >= limit
            if not (pd.notna(value) and ok):
                out.append(f"{column}={value:.3g} (needs {sense} {limit:g})")
        if not pd.notna(row.get(self.cost_column, float("nan"))):
            out.append(f"{self.cost_column} not measured")
        return out

    def describe(self) -> str:
        limits = (
            ("voltage RMSE <= {:g} mV", self.max_voltage_rmse_mv),
            ("gradient cosine >= {:g}", self.min_grad_cosine),
            ("accuracy drop <= {:g}", self.max_accuracy_drop),
        )
        return ", ".join(text.format(v) for text, v in limits if v is not None) or "no constraint"
