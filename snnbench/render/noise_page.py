"""The noise study for people: its rates table and ``summary.md``."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate


def rates_table(found: Sequence) -> str:
    """Markdown: flag rate per injected slowdown, threshold and configuration.

    ``found`` holds the noise study's ``Rate`` records.
    """
    rows = [
        {
            "injected": "none (A vs A)" if r.slowdown == 0 else f"+{r.slowdown * 100:g} %",
            "threshold": f"{r.threshold_pct:g} %",
            "configuration": r.case_id,
            "median B/A": f"{r.median_ratio:.3f}",
            "flagged slower": f"{r.flagged}/{r.trials}",
            "rate [95 % CI]": f"{r.rate * 100:.1f} % [{r.low * 100:.1f}, {r.high * 100:.1f}]",
        }
        for r in found
    ]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def summary_page(table: str, trials: int, chunks: int, info: dict) -> str:
    """The noise study's summary: what ran, how busy the machine was, the rates ``table``."""
    load = ", ".join(f"{x:.2f}" for x in info["load_average_before"])
    return (
        "# snnbench noise study\n\n"
        f"{trials} trials per configuration and injected slowdown; each trial measures "
        f"A and B {chunks} times each, interleaved; {info['wall_s']:.0f} s in all. "
        f"Machine `{info['metadata']['machine_id']}` ({info['metadata']['cpu_model']}, "
        f"{info['metadata']['cpu_count']} cores), load average {load} at the start.\n\n"
        + table
        + "\n"
    )
