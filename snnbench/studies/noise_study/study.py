"""The noise study: whole ``ab`` jobs, as CI runs them, with a real slowdown and real load.

Each job is :func:`snnbench.regress.ab.run_ab` with the options ``snnbench ab``
uses: two separate environments (built from the same spec, so A vs A unless
slowed), long-lived pinned workers, Thue-Morse rounds, looks every 4 rounds, the
same budget and verdicts. Side B's environment may set ``SNNBENCH_SLOWDOWN``,
which adds compiled work to every time step (:mod:`snnbench.task.slowdown`):
a regression inside the jitted code, not a wait around it. Half the jobs (by
default) run while busy processes load the machine.

A job's outcome is what CI would see: a regression (exit 1), inconclusive
(exit 3) or no regression (exit 0). Rates are per job: an A-vs-A job that ends
in a regression is a false alarm; a slowed job that does is a detection.
Levels and load alternate over the jobs (a Latin square), so a machine that
changes over the hours of a study does not fall on one level.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from snnbench.errors import expect
from snnbench.measure import machine, storage
from snnbench.measure.matrix import Matrix
from snnbench.regress import ab, envs
from snnbench.regress.compare import Comparison, compare_frames
from snnbench.render import compare_text, noise_page
from snnbench.studies.noise_study import rates
from snnbench.studies.noise_study.load import background_load, load_average
from snnbench.task.slowdown import ENV_VAR


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs.

    Attributes:
        jobs: jobs per slowdown level.
        slowdowns: injected slowdowns as fractions (0.0 is A vs A).
        load_fraction: share of each level's jobs that run under background load.
        load_processes: busy processes in a loaded job.
        spec: what both sides install (the same for A and B).
    """

    jobs: int = 20
    slowdowns: tuple[float, ...] = (0.0, 0.2, 0.4)
    load_fraction: float = 0.5
    load_processes: int = 2
    spec: str = "snnbench@HEAD"

    def __post_init__(self) -> None:
        expect(self.jobs > 0, "jobs", "a positive integer", self.jobs)
        expect(len(self.slowdowns) > 0, "slowdowns", "at least one level", "none")
        for s in self.slowdowns:
            expect(0.0 <= s < 10.0, "slowdowns", "fractions in [0, 10)", s)
        expect(
            0.0 <= self.load_fraction <= 1.0,
            "load_fraction",
            "a share in [0, 1]",
            self.load_fraction,
        )
        expect(self.load_processes > 0, "load_processes", "a positive integer", self.load_processes)


@dataclass(frozen=True)
class JobPlan:
    """One job: its number, its slowdown and whether it runs under load."""

    index: int
    slowdown: float
    loaded: bool


def plan_jobs(config: StudyConfig) -> list[JobPlan]:
    """Every job in run order: levels rotate each round of jobs; load is spread evenly.

    Job ``j`` of a level is loaded when ``floor((j + 1) f) > floor(j f)`` for the load
    fraction ``f`` (0.5: every second job), so load is spread over the whole study.
    """
    out = []
    levels = list(config.slowdowns)
    for j in range(config.jobs):
        loaded = int((j + 1) * config.load_fraction) > int(j * config.load_fraction)
        shift = j % len(levels)
        for level in levels[shift:] + levels[:shift]:
            out.append(JobPlan(len(out), level, loaded))
    return out


@dataclass(frozen=True)
class Study:
    """A finished study: its folder, its jobs and rows (as tables), its rates."""

    folder: Path
    jobs: pd.DataFrame
    rows: pd.DataFrame
    rates: list[rates.Rate]
    injected: pd.DataFrame
    wall_s: float


def run_study(
    config: StudyConfig,
    matrix: Matrix,
    options: ab.AbOptions,
    out_root: Path,
    repo: Path,
    env_root: Path,
    progress: Callable[[str], None] | None = None,
) -> Study:
    """Run every planned job and write the study's folder."""
    say = progress or (lambda _: None)
    folder = storage.RunFolder.create(Path(out_root) / "noise-study")
    requirements = (envs.parse_spec(config.spec, repo),)
    sides = {
        side: envs.prepare(side, requirements, repo, env_root, tag=f"noise-study-{side}")
        for side in ab.SIDES
    }
    start = time.perf_counter()
    jobs, rows = [], []
    plan = plan_jobs(config)
    for job in plan:
        say(
            f"job {job.index + 1}/{len(plan)}: +{job.slowdown * 100:g} %, "
            f"{'loaded' if job.loaded else 'quiet'}"
        )
        record, job_rows = _run_job(job, config, matrix, options, sides, folder.path, say)
        jobs.append(record)
        rows.extend(job_rows)
        _write(folder, config, options, pd.DataFrame(jobs), pd.DataFrame(rows), start)
    return _write(folder, config, options, pd.DataFrame(jobs), pd.DataFrame(rows), start)


def _run_job(job: JobPlan, config, matrix, options, sides, folder: Path, say):
    variables = ((ENV_VAR, repr(job.slowdown)),) if job.slowdown > 0 else ()
    environments = {"A": sides["A"], "B": replace(sides["B"], variables=variables)}
    before = load_average()
    began = time.perf_counter()
    with background_load(config.load_processes if job.loaded else 0):
        result = ab.run_ab(matrix, environments, options, folder / "jobs", lambda m: say(f"  {m}"))
    after = load_average()
    comparison = result.comparison
    markdown = compare_text.render_markdown(comparison, title=f"noise-study job {job.index}")
    storage.atomic_write_text(result.folder / "comparison.md", markdown)
    record = {
        **asdict(job),
        "outcome": comparison.outcome(),
        # The same job judged by the other metric, at the same look: the evidence for
        # which metric should decide (the rounds were chosen by the deciding one).
        **{f"outcome_{m}": _judged_by(result, options, m).outcome() for m in ("cpu", "wall")},
        "rounds": result.rounds,
        "looks": result.looks,
        "stopped": result.stopped,
        "job_s": time.perf_counter() - began,
        "measuring_s": result.elapsed_s,
        "load_1min_before": before[0],
        "load_1min_after": after[0],
        "folder": str(result.folder),
        **{f"n_{v.replace(' ', '_')}": n for v, n in comparison.counts().items()},
    }
    job_rows = [
        {
            "index": job.index,
            "slowdown": job.slowdown,
            "loaded": job.loaded,
            "case_id": row.spec.case_id,
            "phase": str(row.spec.phase),
            "verdict": row.verdict.verdict,
            "metric": row.verdict.metric,
            "ratio": row.verdict.ratio,
            "ratio_low": row.verdict.ratio_low,
            "ratio_high": row.verdict.ratio_high,
            "other_ratio": row.verdict.other_ratio,
            "p_holm": row.verdict.p_holm,
            "design": row.verdict.design,
            "detectable_pct": row.verdict.detectable_pct,
        }
        for row in comparison.rows
    ]
    return record, job_rows


def _judged_by(result: ab.AbResult, options: ab.AbOptions, metric: str) -> Comparison:
    frames = [storage.load_results(result.folder / side) for side in ab.SIDES]
    policy = replace(options.criteria, metric=metric, look=result.looks)
    return compare_frames(frames[0], frames[1], policy, ("A", "B"))


def _write(folder, config, options, jobs: pd.DataFrame, rows: pd.DataFrame, start: float) -> Study:
    found = rates.job_rates(jobs)
    injected = rates.injected_effects(rows)
    wall_s = time.perf_counter() - start
    folder.write_table("noise_jobs", jobs)
    folder.write_table("noise_rows", rows)
    folder.write_table("noise_rates", pd.DataFrame([{**asdict(r), "rate": r.rate} for r in found]))
    folder.write_table("noise_injected", injected)
    info = {
        "config": asdict(config),
        "ab_options": {
            **{k: v for k, v in asdict(options).items() if k != "criteria"},
            "criteria": asdict(options.criteria),
        },
        "command": list(options.command),
        "wall_s": wall_s,
        "metadata": machine.metadata(),
    }
    folder.write_text("study.json", storage.to_json(info))
    folder.write_text("summary.md", noise_page.summary_page(jobs, found, injected, info))
    return Study(folder.path, jobs, rows, found, injected, wall_s)
