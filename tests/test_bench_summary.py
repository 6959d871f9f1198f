"""The benchmark run's summary for people: table cells, units, the quality line."""

from pathlib import Path

import pandas as pd

from snnbench.measure import storage
from snnbench.render import bench_summary
from snnbench.render.units import format_bytes, format_seconds


def test_summary_table_renders_units_and_status():
    rows = [
        {
            "backend": "dense",
            "platform": "cpu",
            "precision": "float64",
            "batch_size": 1,
            "dt_ms": 0.001,
            "phase": "forward",
            "status": "ok",
            "median_s": 0.0025,
            "noisy": False,
            "jaxley_over_dense": float("nan"),
        },
        {
            "backend": "dense",
            "platform": "gpu",
            "precision": "float64",
            "batch_size": 1,
            "dt_ms": 0.001,
            "phase": "forward",
            "status": "skipped",
            "median_s": None,
            "noisy": None,
            "jaxley_over_dense": float("nan"),
        },
    ]
    text = bench_summary.summary_table(pd.DataFrame(rows))
    assert "2.5 ms" in text and "skipped" in text
    assert format_seconds(1.5) == "1.5 s" and format_seconds(2e-5) == "20 us"
    assert format_seconds(None) == "" and format_seconds(float("nan")) == ""
    assert format_bytes(3 * 2**30) == "3 GiB" and format_bytes(512) == "512 B"
    assert format_bytes(pd.NA) == ""


def test_quality_summary_reports_cv_noisy_rows_and_overhead():
    def row(phase, cv, noisy, median=0.01):
        return {
            "phase": phase,
            "status": "ok",
            "cv": cv,
            "noisy": noisy,
            "median_s": median,
            "precision": "float64",
        }

    frame = pd.DataFrame(
        [
            row("forward", 0.02, False),
            row("grad_step", 0.04, False),
            row("grad_step", 0.20, True),
            row("overhead", 0.1, True, 2e-5),
            row("grad_compile", 0.5, True),
        ]
    )
    text = bench_summary.quality_summary(frame)
    assert "Spread of 3 steady rows" in text
    assert "median 4.0%" in text and "max 20.0%" in text
    assert "Noisy (~): 3 of 5 rows." in text
    assert "--pin-cpu" in text and "--full" in text and "snnbench ab" in text
    assert "20 us (float64)" in text


def test_summary_table_has_no_ratio_column_without_pairs():
    row = {
        "backend": "dense",
        "platform": "cpu",
        "precision": "float32",
        "batch_size": 1,
        "dt_ms": 0.001,
        "phase": "grad_step",
        "status": "ok",
        "median_s": 0.001,
        "noisy": False,
        "jaxley_over_dense": float("nan"),
    }
    assert "jaxley/dense" not in bench_summary.summary_table(pd.DataFrame([row]))


COMMITTED_RUN = (
    Path(__file__).resolve().parent.parent / "results" / "vm-da3d1dc8" / "20261128T123212Z"
)


def test_the_terminal_view_of_a_whole_quick_matrix_fits_100_columns():
    frame = storage.load_results(COMMITTED_RUN)
    text = bench_summary.terminal_table(frame)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "cpu float64\nbackend" in text and "29.5x" in text  # jaxley/dense, b=64 float32
    assert "gpu float32: 79 cases not run: no gpu device" in text
    noisy, timed = bench_summary.noisy_count(frame)
    assert f"{noisy} of {timed}" in bench_summary.quality_summary(frame)
    assert text.count("~") == int(
        frame[frame["phase"].isin(["forward", "grad_step", "forward_compile", "grad_compile"])][
            "noisy"
        ]
        .fillna(False)
        .sum()
    )
