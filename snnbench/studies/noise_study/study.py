"""The noise study: whole ``ab`` jobs, as CI runs them, with real regressions and real load.

Each job is :func:`snnbench.regress.ab.run_ab` with the options ``snnbench ab``
uses: two separate environments built from the same spec (so A vs A unless
slowed), a fresh pair of pinned worker processes per round, Thue-Morse rounds,
looks every 4 rounds, the same budget and verdicts. Side B's environment may
inject one kind of regression through ``SNNBENCH_SLOWDOWN``
(:mod:`snnbench.task.slowdown`): compiled work in the time step, Python work at
trace time, or a bigger compiled program. Jobs run quiet, beside busy loops
that time-slice the cores, or beside memory streamers (:mod:`.load`).

A job's outcome is what CI would see: a regression (exit 1), inconclusive
(exit 3) or no regression (exit 0). Rates are per job and per cell (kind,
size, load): an A-vs-A job that ends in a regression is a false alarm; a slowed
job that does is a detection.

A campaign takes days on a small machine, so it is journalled: every finished
job is one line of ``jobs.jsonl`` (its record, its rows' verdicts, and the
per-round log ratios its statistics rest on), and ``--resume FOLDER`` runs the
planned jobs the journal lacks. The tables are always derived from the journal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from snnbench.errors import SnnbenchError, expect
from snnbench.measure import machine, storage
from snnbench.measure.matrix import Matrix
from snnbench.regress import ab, envs
from snnbench.regress.compare import Comparison, compare_frames
from snnbench.render import compare_text, noise_page
from snnbench.studies.noise_study import components, rates
from snnbench.studies.noise_study.load import LOADS, background_load, load_average
from snnbench.task import slowdown as knob

#: The journal of a study folder: one JSON line per finished job.
JOURNAL = "jobs.jsonl"
#: What an A-vs-A job's kind is called.
NONE = "none"


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs.

    Attributes:
        jobs: jobs per cell (kind, size, load).
        kinds: the kinds of injected regression (:data:`snnbench.task.slowdown.KINDS`).
        slowdowns: injected sizes as fractions; 0.0 is A vs A (one cell per load,
            shared by every kind).
        loads: the loads jobs run under (:data:`.load.LOADS`).
        load_processes: load processes in a loaded job.
        spec: what both sides install (the same for A and B).
    """

    jobs: int = 20
    kinds: tuple[str, ...] = tuple(knob.KINDS)
    slowdowns: tuple[float, ...] = (0.0, 0.05, 0.10, 0.20)
    loads: tuple[str, ...] = LOADS
    load_processes: int = 2
    spec: str = "snnbench@HEAD"

    def __post_init__(self) -> None:
        expect(self.jobs > 0, "jobs", "a positive integer", self.jobs)
        expect(len(self.slowdowns) > 0, "slowdowns", "at least one size", "none")
        for s in self.slowdowns:
            expect(0.0 <= s < 10.0, "slowdowns", "fractions in [0, 10)", s)
        for kind in self.kinds:
            expect(kind in knob.KINDS, "kinds", f"kinds from {', '.join(knob.KINDS)}", kind)
        for load in self.loads:
            expect(load in LOADS, "loads", f"loads from {', '.join(LOADS)}", load)
        expect(len(self.loads) > 0, "loads", "at least one load", "none")
        expect(self.load_processes > 0, "load_processes", "a positive integer", self.load_processes)


@dataclass(frozen=True)
class JobPlan:
    """One planned job: its place in the plan, its cell and its replicate in that cell."""

    index: int
    replicate: int
    kind: str
    slowdown: float
    load: str

    @property
    def key(self) -> str:
        """Names the job across parts of a campaign (the journal is keyed by it)."""
        return f"{self.kind}:{self.slowdown:g}:{self.load}:{self.replicate}"


def plan_jobs(config: StudyConfig) -> list[JobPlan]:
    """Every job in run order, one replicate of every cell at a time.

    Within a replicate: A vs A first, then the sizes nearest +10 % (the size the
    targets are stated at), each over every kind; loads rotate from replicate to
    replicate. So a campaign stopped part-way has covered its cells evenly, the
    deciding ones first, and a machine that changes over the hours does not fall
    on one cell.
    """
    sizes = sorted(config.slowdowns, key=lambda s: (s != 0.0, abs(s - 0.10), s))
    out = []
    for replicate in range(config.jobs):
        shift = replicate % len(config.loads)
        loads = config.loads[shift:] + config.loads[:shift]
        for size in sizes:
            for kind in (NONE,) if size == 0.0 else config.kinds:
                for load in loads:
                    out.append(JobPlan(len(out), replicate, kind, size, load))
    return out


@dataclass(frozen=True)
class Study:
    """A study's folder, its journalled jobs and rows (as tables), and what they give."""

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
    resume: Path | None = None,
    max_jobs: int | None = None,
) -> Study:
    """Run the planned jobs the journal lacks (at most ``max_jobs``), journalling each."""
    say = progress or (lambda _: None)
    folder = _open(resume, config, out_root)
    requirements = (envs.parse_spec(config.spec, repo),)
    sides = {
        side: envs.prepare(side, requirements, repo, env_root, tag=f"noise-study-{side}")
        for side in ab.SIDES
    }
    start = time.perf_counter()
    entries = read_journal(folder.path)
    done = {entry["job"]["key"] for entry in entries}
    todo = [job for job in plan_jobs(config) if job.key not in done]
    if max_jobs is not None:
        todo = todo[:max_jobs]
    for n, job in enumerate(todo, start=1):
        say(f"job {n}/{len(todo)} ({job.key}): +{job.slowdown * 100:g} % {job.kind}, {job.load}")
        entry = _run_job(job, config, matrix, options, sides, folder.path, say)
        line = json.dumps(entry, default=_plain)
        with open(folder / JOURNAL, "a") as journal:
            journal.write(line + "\n")
        entries.append(json.loads(line))  # as a resumed campaign reads it back
        _write(folder, config, options, start, entries)
    return _write(folder, config, options, start, entries)


def _open(resume: Path | None, config: StudyConfig, out_root: Path) -> storage.RunFolder:
    if resume is None:
        folder = storage.RunFolder.create(Path(out_root) / "noise-study")
        folder.write_text("study.json", storage.to_json({"config": asdict(config)}))
        return folder
    folder = storage.RunFolder(Path(resume))
    try:
        planned = json.loads((folder / "study.json").read_text())["config"]
    except (OSError, ValueError, KeyError):
        raise SnnbenchError(
            f"`--resume` must be a noise-study folder with a study.json; got {resume}"
        ) from None
    mine = json.loads(json.dumps(asdict(config)))
    if planned != mine:
        differs = sorted(k for k in mine if planned.get(k) != mine[k])
        raise SnnbenchError(
            f"`--resume`: {resume} was planned with other settings ({', '.join(differs)}); "
            "give the same --jobs, --kinds, --slowdowns, --loads, --load and --spec"
        )
    return folder


def read_journal(folder: Path) -> list[dict]:
    """Every journalled job of a study folder (none if it has no journal yet).

    Raises:
        SnnbenchError: naming the file and line, if a line is damaged.
    """
    path = Path(folder) / JOURNAL
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise SnnbenchError(
                f"{path}, line {number}: damaged journal line (not JSON); "
                "remove it to rerun that job"
            ) from None
    return out


def _run_job(job: JobPlan, config, matrix, options, sides, folder: Path, say) -> dict:
    variables = (
        ((knob.ENV_VAR, knob.as_env_value(job.kind, job.slowdown)),) if job.slowdown > 0 else ()
    )
    environments = {"A": sides["A"], "B": replace(sides["B"], variables=variables)}
    before = load_average()
    began = time.perf_counter()
    with background_load(config.load_processes, job.load, options.pin_cpu):
        result = ab.run_ab(matrix, environments, options, folder / "jobs", lambda m: say(f"  {m}"))
    after = load_average()
    comparison = result.comparison
    markdown = compare_text.render_markdown(comparison, title=f"noise-study job {job.key}")
    storage.atomic_write_text(result.folder / "comparison.md", markdown)
    record = {
        **asdict(job),
        "key": job.key,
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
        "finished_utc": machine.utc_now(),
        "folder": str(result.folder),
        **{f"n_{v.replace(' ', '_')}": n for v, n in comparison.counts().items()},
    }
    verdicts = [
        {
            "case_id": row.spec.case_id,
            "backend": row.spec.backend,
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
    return {"job": record, "rows": verdicts, "pairs": round_log_ratios(*result.frames)}


def round_log_ratios(a: pd.DataFrame, b: pd.DataFrame) -> list[dict]:
    """Per case and round: ``log(B / A)`` of the round medians, by CPU and by wall time.

    The raw material of the variance components: a round is one fresh process pair.
    """
    keys = ["case_id", "ab_round"]
    columns = [*keys, "backend", "phase", "cpu_median_s", "median_s"]
    ok = [f[f["status"] == "ok"][columns] for f in (a, b)]
    both = ok[0].merge(ok[1], on=[*keys, "backend", "phase"], suffixes=("_a", "_b"))
    both = both.sort_values(keys)
    return [
        {
            "case_id": r.case_id,
            "backend": r.backend,
            "phase": r.phase,
            "round": int(r.ab_round),
            "log_cpu": float(np.log(r.cpu_median_s_b / r.cpu_median_s_a)),
            "log_wall": float(np.log(r.median_s_b / r.median_s_a)),
        }
        for r in both.itertuples()
    ]


def _judged_by(result: ab.AbResult, options: ab.AbOptions, metric: str) -> Comparison:
    policy = replace(options.criteria, metric=metric, look=result.looks)
    return compare_frames(result.frames[0], result.frames[1], policy, ("A", "B"))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot journal {type(value).__name__}")


def tables(entries: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The journal as three tables: jobs, row verdicts, per-round log ratios."""
    jobs = pd.DataFrame([e["job"] for e in entries])

    def part(name: str) -> pd.DataFrame:
        return pd.DataFrame(
            [{**_cell(e["job"]), **item} for e in entries for item in e.get(name, [])]
        )

    return jobs, part("rows"), part("pairs")


def _cell(job: dict) -> dict:
    return {name: job[name] for name in ("key", "kind", "slowdown", "load")}


def _write(folder, config, options, start: float, entries: list[dict]) -> Study:
    """Every table and the summary, derived from the journal's entries."""
    jobs, rows, pairs = tables(entries)
    found = rates.job_rates(jobs)
    injected = rates.injected_effects(rows)
    fitted = components.fit(pairs)
    predicted = components.predict(fitted, options.criteria, options.rounds)
    suggested = components.suggest_thresholds(fitted, options.criteria, options.rounds)
    cells = components.predict_cells(fitted, injected, options.criteria, options.rounds)
    wall_s = time.perf_counter() - start
    folder.write_table("noise_jobs", jobs)
    folder.write_table("noise_rows", rows)
    folder.write_table("noise_pairs", pairs)
    folder.write_table("noise_rates", pd.DataFrame([{**asdict(r), "rate": r.rate} for r in found]))
    folder.write_table("noise_injected", injected)
    folder.write_table("noise_components", fitted)
    folder.write_table("noise_predicted", predicted)
    folder.write_table("noise_thresholds", suggested)
    folder.write_table("noise_cells", cells)
    info = {
        "config": asdict(config),
        "ab_options": {
            **{k: v for k, v in asdict(options).items() if k != "criteria"},
            "criteria": asdict(options.criteria),
        },
        "command": list(options.command),
        "metadata": machine.metadata(),
    }
    folder.write_text("study.json", storage.to_json(info))
    page = noise_page.summary_page(jobs, found, injected, info, fitted, predicted, suggested, cells)
    folder.write_text("summary.md", page)
    return Study(folder.path, jobs, rows, found, injected, wall_s)
