"""How trustworthy are the verdicts on this machine? A vs A, and injected slowdowns.

Each trial measures a cheap real workload (dense forward and gradient step at a
small batch) as side A and side B, interleaved A B A B (B A B A on odd trials)
so that machine drift falls on both sides. Side B is either the same code
(A vs A: every "slower" verdict is a false alarm) or the same code made slower
by a known fraction: after each call, a busy-wait for that fraction of the
call's own measured duration -- real extra CPU time, proportional to the work.
Both sides go through the same wrapper, so only the injected wait differs.
Verdicts come from :func:`snnbench.regress.compare.judge`, exactly as ``compare`` uses it,
with each measurement of a side counted as one run (as the rounds of ``ab`` are).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from snnbench.errors import expect
from snnbench.measure import harness, machine, storage
from snnbench.measure.records import CaseSpec
from snnbench.measure.timing import Rounds, TimingPolicy, perf_counter_rounds
from snnbench.regress import stats
from snnbench.regress.compare import SLOWER, Policy, judge
from snnbench.render.noise_page import rates_table, summary_page

#: Short rounds: each measurement takes a fraction of a second, so a trial is quick.
STUDY_TIMING = TimingPolicy(
    min_round_s=0.005, min_rounds=4, max_rounds=4, target_s=0.02, warmup_calls=2
)
STUDY_SPECS = (
    CaseSpec("dense", "forward", 16, "float32", "cpu", 1e-3),
    CaseSpec("dense", "grad_step", 16, "float32", "cpu", 1e-3),
)


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs.

    Attributes:
        trials: trials per slowdown level and configuration.
        slowdowns: injected slowdowns as fractions (0.0 is A vs A).
        chunks: measurements per side per trial, interleaved with the other side.
        thresholds_pct: thresholds at which every trial is judged.
        specs: the configurations measured.
        timing: the timing policy of each measurement.
    """

    trials: int = 50
    slowdowns: tuple[float, ...] = (0.0, 0.10, 0.30)
    chunks: int = 8
    thresholds_pct: tuple[float, ...] = (10.0,)
    specs: tuple[CaseSpec, ...] = STUDY_SPECS
    timing: TimingPolicy = STUDY_TIMING

    def __post_init__(self) -> None:
        expect(self.trials > 0, "trials", "a positive integer", self.trials)
        expect(self.chunks > 0, "chunks", "a positive integer", self.chunks)
        for s in self.slowdowns:
            expect(0.0 <= s < 10.0, "slowdowns", "fractions in [0, 10)", s)


def slowed_rounds(fraction: float, rounds_runner: Rounds = perf_counter_rounds) -> Rounds:
    """A round runner whose every call lasts ``1 + fraction`` times its own duration.

    The extra time is a busy-wait (the CPU stays as busy as during real work),
    measured per call, so the slowdown scales with whatever the call costs now.
    """

    def run(target: Callable, rounds: int, iterations: int = 1, setup=None) -> list[float]:
        def slow(*args):
            start = time.perf_counter()
            out = target(*args)
            until = start + (time.perf_counter() - start) * (1.0 + fraction)
            while time.perf_counter() < until:
                pass
            return out

        return rounds_runner(slow, rounds, iterations, setup)

    return run


@dataclass(frozen=True)
class TrialResult:
    """One trial of one configuration at one slowdown."""

    trial: int
    case_id: str
    slowdown: float
    ratio: float
    verdicts: tuple[tuple[float, str], ...]  # (threshold %, verdict)
    p_value: float = float("nan")
    ratio_low: float = float("nan")
    ratio_high: float = float("nan")


def _measure(
    spec: CaseSpec, runner: Rounds, timing: TimingPolicy, tasks: harness.TaskCache
) -> list[float]:
    m = harness.measure_case(spec, timing, runner, tasks)
    if m.status != "ok":
        raise RuntimeError(f"noise study: {spec.case_id} {m.status}: {m.reason}")
    return list(m.samples_s)


def run_trial(
    config: StudyConfig, trial: int, spec: CaseSpec, slowdown: float, tasks: harness.TaskCache
) -> TrialResult:
    """Measure A and B interleaved, then judge B against A at every threshold."""
    runners = {"A": slowed_rounds(0.0), "B": slowed_rounds(slowdown)}
    chunks: dict[str, list[list[float]]] = {"A": [], "B": []}
    order = ("A", "B") if trial % 2 == 0 else ("B", "A")
    for _ in range(config.chunks):
        for side in order:
            chunks[side].append(_measure(spec, runners[side], config.timing, tasks))
    a = [s for c in chunks["A"] for s in c]
    b = [s for c in chunks["B"] for s in c]
    verdicts = []
    for pct in config.thresholds_pct:
        plain = judge(
            a, b, pct / 100.0, Policy(threshold_pct=pct, seed=trial), chunks["A"], chunks["B"]
        )
        verdicts.append((pct, plain.verdict))
    return TrialResult(
        trial,
        spec.case_id,
        slowdown,
        float(plain.ratio),
        tuple(verdicts),
        float(plain.p_value),
        float(plain.ratio_low),
        float(plain.ratio_high),
    )


def run_study(
    config: StudyConfig, progress: Callable[[int, int], None] | None = None
) -> list[TrialResult]:
    """Every trial; the process must run at the specs' precision (float32)."""
    harness.prepare_process(config.specs[0].precision)
    tasks = harness.TaskCache(size=len(config.specs))
    total = config.trials * len(config.slowdowns) * len(config.specs)
    results = []
    for trial in range(config.trials):
        for slowdown in config.slowdowns:
            for spec in config.specs:
                results.append(run_trial(config, trial, spec, slowdown, tasks))
                if progress:
                    progress(len(results), total)
    return results


@dataclass(frozen=True)
class Rate:
    """How often a verdict was "slower", with a Clopper-Pearson 95 % interval."""

    slowdown: float
    threshold_pct: float
    case_id: str  # "all" when pooled over configurations
    flagged: int
    trials: int
    low: float
    high: float
    median_ratio: float

    @property
    def rate(self) -> float:
        return self.flagged / self.trials


def rates(results: Sequence[TrialResult]) -> list[Rate]:
    """Flag rates per (slowdown, threshold, configuration), and pooled over configurations."""
    import numpy as np

    groups: dict[tuple, list[tuple[bool, float]]] = {}
    for r in results:
        for pct, verdict in r.verdicts:
            for case in (r.case_id, "all"):
                groups.setdefault((r.slowdown, pct, case), []).append((verdict == SLOWER, r.ratio))
    out = []
    for (slowdown, pct, case), flags in sorted(
        groups.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2] == "all", kv[0][2])
    ):
        flagged = sum(f for f, _ in flags)
        low, high = stats.proportion_interval(flagged, len(flags))
        out.append(
            Rate(
                slowdown,
                pct,
                case,
                flagged,
                len(flags),
                low,
                high,
                float(np.median([ratio for _, ratio in flags])),
            )
        )
    return out


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (how busy it was)."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def write_study(
    results: Sequence[TrialResult],
    config: StudyConfig,
    out_root,
    wall_s: float,
    load_before: tuple,
    load_after: tuple,
    command=None,
):
    """Write trials.csv, rates.csv, study.json and summary.md into a fresh run folder."""
    import pandas as pd

    folder = storage.RunFolder.create(Path(out_root) / "noise-study")
    trials = pd.DataFrame(
        [
            {
                "trial": r.trial,
                "case_id": r.case_id,
                "slowdown": r.slowdown,
                "ratio": r.ratio,
                "ratio_low": r.ratio_low,
                "ratio_high": r.ratio_high,
                "p_value": r.p_value,
                **{f"verdict_at_{p:g}pct": v for p, v in r.verdicts},
            }
            for r in results
        ]
    )
    folder.write_table("noise_trials", trials)
    found = rates(results)
    folder.write_table("noise_rates", pd.DataFrame([{**asdict(r), "rate": r.rate} for r in found]))
    info = {
        "config": {**asdict(config), "specs": [s.case_id for s in config.specs]},
        "command": list(command or sys.argv),
        "wall_s": wall_s,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "metadata": machine.metadata(),
    }
    folder.write_text("study.json", storage.to_json(info))
    folder.write_text(
        "summary.md", summary_page(rates_table(found), config.trials, config.chunks, info)
    )
    return folder.path
