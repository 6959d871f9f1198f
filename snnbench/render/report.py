"""The report: ``results/`` in, one markdown page with figures out.

Three steps, kept apart: :func:`load_inputs` finds and reads every run folder
under a results tree (benchmark runs through :func:`snnbench.measure.storage.load_results`,
trade-off and profiling tables through :func:`snnbench.measure.storage.read_table`,
schema-checked, when present); :func:`build_report` turns them
into sections (titles, text, markdown tables, figures) as data; :func:`render`
writes the markdown. :func:`write_report` does all three and writes the PNGs
and ``REPORT.md`` atomically.

The page is a pure function of the inputs: inputs are read in sorted order, the
page carries no generation time, and figures are saved with fixed metadata, so
regenerating from the same results gives byte-identical files.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from snnbench.errors import SnnbenchError
from snnbench.measure import shards, storage
from snnbench.measure.records import CASE_KEY_COLUMNS, TUTORIAL_SIZE
from snnbench.render import plots
from snnbench.render.bench_summary import matmul_line, scaling_table
from snnbench.render.tradeoffs_page import summary_table as tradeoffs_summary_table
from snnbench.render.units import format_seconds

PAGE = "REPORT.md"
IMAGES = "report"
#: The study tables a report reads, by kind (see ``storage.TABLES``).
STUDY_TABLES = ("tradeoffs", "memory", "profile")
#: What to run to produce each kind of input (shown when it is missing).
HOW_TO_GET = {
    "benchmark": "run `nox -s bench` (or `snnbench bench`) first",
    "tradeoffs": "run the trade-off study (`snnbench tradeoffs`) first",
    "profile": "run the profiler (`snnbench profile`) first",
}
#: A row is one configuration in one environment; a newer run's row replaces an older one.
CONFIG_COLUMNS = (
    "machine_id",
    "device_kind",
    "jax_version",
    "jaxlib_version",
    "jaxley_version",
    *CASE_KEY_COLUMNS,
)


@dataclass(frozen=True)
class RunInfo:
    """One run folder: what kind of run, how it was started, how it ended."""

    run_id: str
    kind: str
    command: str
    started_utc: str
    status: str


@dataclass(frozen=True)
class ReportInputs:
    """Everything read from a results tree; ``None`` where an input is absent."""

    bench: pd.DataFrame | None
    runs: tuple[RunInfo, ...]
    tradeoffs: dict[str, pd.DataFrame] = field(default_factory=dict)
    memory: dict[str, pd.DataFrame] = field(default_factory=dict)
    profile: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    root: str = ""


@dataclass(frozen=True)
class Section:
    """One titled part of the page; ``figure`` is an image file name under ``report/``."""

    title: str
    text: tuple[str, ...] = ()
    figure: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class Report:
    """The page as data: sections in order plus the figures they show."""

    intro: tuple[str, ...]
    sections: tuple[Section, ...]
    figures: dict[str, Figure]


# ---------------------------------------------------------------- loading


def load_inputs(results_dir: str | Path) -> ReportInputs:
    """Read every run under ``results_dir``.

    Raises:
        SnnbenchError: if ``results_dir`` does not exist or holds no results of
            any kind, or a benchmark table has a schema version this snnbench
            does not read (the message says what to do).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise SnnbenchError(
            f"`results_dir` must be a results folder; {str(root)!r} does not exist: "
            f"{HOW_TO_GET['benchmark']}",
            argument="results_dir",
        )
    notes: list[str] = []
    timing = _study_timing_runs(root)
    bench = _load_bench(root, timing)
    tables = {kind: _load_tables(root, kind, notes) for kind in STUDY_TABLES}
    if bench is None and not any(tables.values()):
        raise SnnbenchError(
            f"`results_dir` {str(root)!r} holds no benchmark, trade-off or profiling results; "
            f"{HOW_TO_GET['benchmark']}",
            argument="results_dir",
        )
    return ReportInputs(
        bench=bench,
        runs=tuple(_run_infos(root, timing)),
        tradeoffs=tables["tradeoffs"],
        memory=tables["memory"],
        profile=tables["profile"],
        notes=tuple(notes),
        root=str(results_dir),
    )


def reports_root(results_dir: str | Path) -> Path:
    """The results tree that holds ``results_dir``: where a report of it goes by default.

    ``results_dir`` may be a tree, one machine's folder in it, or one run folder;
    a report never lands inside a machine's folder or a run.
    """
    path = Path(results_dir)
    if (path / storage.RUN_INFO).exists():
        path = path.parent
    if path.is_dir() and any((child / storage.RUN_INFO).exists() for child in path.iterdir()):
        path = path.parent
    return path


def _study_timing_runs(root: Path) -> set[str]:
    """Run ids (``machine/stamp``) of benchmark runs that a trade-off study made to time
    its points: part of that study, not benchmark runs of their own."""
    out = set()
    for folder in storage.find_run_dirs(root, "tradeoffs"):
        bench_run = storage.RunFolder(folder).read_info().get("bench_run_id")
        if isinstance(bench_run, str) and bench_run:
            out.add("/".join(bench_run.split("/")[-2:]))
    return out


def _load_bench(root: Path, timing: set[str]) -> pd.DataFrame | None:
    if not storage.find_run_dirs(root):
        return None
    frame = storage.load_results(root)
    frame = frame[~frame["run_id"].isin(timing)]
    # Rounds of A/B jobs (the noise study's side B deliberately slowed) are not
    # benchmark runs of this machine: the report shows benchmark runs only.
    for column in ("ab_side", "slowdown"):
        if column in frame.columns:
            marked = frame[column].fillna(0 if column == "slowdown" else "")
            frame = frame[(marked == 0) if column == "slowdown" else (marked == "")]
    return frame if not frame.empty else None


def _load_tables(root: Path, kind: str, notes: list[str]) -> dict[str, pd.DataFrame]:
    """Tables of ``kind`` keyed by run id; unreadable ones become notes, not crashes.

    A table with another schema version is an error (``read_table`` says what
    to do), not a note: a page built from misread columns would be wrong.
    """
    out = {}
    for folder in storage.find_run_dirs(root, kind):
        run_id = folder.relative_to(root).as_posix()
        name = storage.TABLES[kind]
        try:
            frame = storage.read_table(folder, kind)
        except SnnbenchError as error:
            if "schema version" in str(error):
                raise
            notes.append(f"`{run_id}/{name}` could not be read; skipped.")
            continue
        if frame.empty:
            notes.append(f"`{run_id}/{name}` has no rows; skipped.")
            continue
        out[run_id] = frame
    return out


def _run_infos(root: Path, timing: set[str]) -> list[RunInfo]:
    kinds = {"benchmark": "benchmark"}
    kinds.update({k: ("tradeoffs" if k == "tradeoffs" else "profile") for k in STUDY_TABLES})
    folders: dict[Path, str] = {}
    for table, kind in kinds.items():
        for folder in storage.find_run_dirs(root, table):
            run_id = f"{folder.parent.name}/{folder.name}"
            if not _inside_ab_job(root, folder) and run_id not in timing:
                folders.setdefault(folder, kind)
    return [_run_info(root, folder, kind) for folder, kind in sorted(folders.items())]


def _inside_ab_job(root: Path, folder: Path) -> bool:
    """Whether ``folder`` holds one side of an A/B job: the report leaves those out."""
    return any(
        (parent / storage.AB_JOB_INFO).exists()
        for parent in (folder, *folder.parents)
        if parent.is_relative_to(root)
    )


def _run_info(root: Path, folder: Path, kind: str) -> RunInfo:
    info = storage.RunFolder(folder).read_info()
    return RunInfo(
        run_id=folder.relative_to(root).as_posix(),
        kind=kind,
        command=format_command(info.get("command")),
        started_utc=str(info.get("started_utc", "")),
        status=str(info.get("status", "")),
    )


def format_command(argv: object) -> str:
    """The command line recorded in run.json, with the program shown as it is typed."""
    if isinstance(argv, str):
        return argv
    if not isinstance(argv, list) or not argv:
        return "(not recorded)"
    program = Path(str(argv[0]))
    if program.name == "__main__.py":
        head = ["python", "-m", program.parent.name]
    else:
        head = [program.name]
    return shlex.join([*head, *(str(a) for a in argv[1:])])


# ---------------------------------------------------------------- selecting


def latest_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration and environment: the one from the newest run."""
    keys = [c for c in CONFIG_COLUMNS if c in frame]
    utc = frame["utc"] if "utc" in frame else pd.Series("", index=frame.index)
    order = frame.assign(_utc=utc.fillna("").astype(str))
    order = order.sort_values(["_utc", "run_id"], kind="mergesort")
    return order.drop_duplicates(keys, keep="last").drop(columns="_utc")


def _cell(row: pd.Series) -> str:
    if row["status"] != "ok" or pd.isna(row["median_s"]):
        return str(row["status"])
    flag = "~" if str(row.get("noisy", "")).lower() == "true" else ""
    return flag + format_seconds(float(row["median_s"]))


def _markdown(frame: pd.DataFrame) -> str:
    """A markdown table; floats shown with 4 significant digits."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown.to_markdown(index=False, disable_numparse=True)


def _pivot(rows: pd.DataFrame, index: list[str], columns: str, values: str, label) -> pd.DataFrame:
    """``rows`` pivoted, with a ``runs`` column naming the run folder of every cell.

    A row whose cells come from one run names that run; a row stitched from
    several names each run with the columns it gave (``label`` names a column).
    """
    table = rows.pivot_table(index=index, columns=columns, values=values, aggfunc="last")

    def sources(group: pd.DataFrame) -> str:
        by_run = group.groupby(group["run_id"].astype(str).str.split("/").str[-1])[columns]
        if by_run.ngroups == 1:
            return next(iter(by_run.groups))
        return "; ".join(
            f"{run}: {','.join(label(v) for v in sorted(set(cells)))}" for run, cells in by_run
        )

    runs = rows.groupby(index).apply(sources, include_groups=False)
    table = table.rename(columns=label)
    table["runs"] = runs.reindex(table.index)
    return table


# ---------------------------------------------------------------- sections


class _Figures:
    """Draws figures for sections; a figure that cannot be drawn becomes a note."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def section(
        self,
        title: str,
        name: str,
        draw: Callable[[], Figure],
        *text: str,
        table: str | None = None,
    ) -> Section:
        try:
            self.figures[name] = draw()
        except SnnbenchError as error:
            return Section(title, (*text, f"_No figure: {error}._"), None, table)
        return Section(title, text, name, table)


def build_report(inputs: ReportInputs) -> Report:
    """The page as data: intro, sections and figures, from ``inputs``."""
    figures = _Figures()
    sections: list[Section] = []
    bench = latest_rows(_labelled(inputs.bench)) if inputs.bench is not None else None
    if bench is not None:
        sections += [_machines_section(bench)]
    sections += [_runs_section(inputs)]
    if bench is not None:
        single = bench[bench["scaling"] == ""]
        sections += _bench_sections(single, figures) if not single.empty else []
        # Every run of a series, not the newest row per configuration: each run's
        # efficiencies are against its own 1-device row, which must stay beside them.
        sections += _scaling_sections(_labelled(inputs.bench), figures)
    else:
        sections.append(Section("Benchmark", (f"No benchmark runs: {HOW_TO_GET['benchmark']}.",)))
    sections += _tradeoff_sections(inputs.tradeoffs, figures)
    sections += _profile_sections(inputs.memory, inputs.profile, figures)
    if bench is not None:
        sections.append(_problems_section(bench))
    notes = list(inputs.notes)
    if inputs.bench is not None:
        notes += shards.describe_missing(inputs.bench)
    if notes:
        sections.append(Section("Inputs skipped or missing", tuple(f"- {n}" for n in notes)))
    return Report(_intro(inputs, bench), tuple(sections), figures.figures)


#: Label columns every page table groups by; a table from an older harness may lack some.
_LABELS = ("machine_id", "jax_version", "jaxley_version", "cpu_model", "cpu_count", "os")


def _labelled(bench: pd.DataFrame) -> pd.DataFrame:
    """``bench`` with every label column present and no empty labels (which pivots drop)."""
    bench = bench.copy()
    for column in _LABELS:
        values = bench[column] if column in bench else pd.Series(pd.NA, index=bench.index)
        bench[column] = values.astype(object).where(values.notna(), "unknown").astype(str)
    # An unknown time sorts first, so a dated row is never replaced by an undated one.
    utc = bench["utc"] if "utc" in bench else pd.Series(pd.NA, index=bench.index)
    bench["utc"] = utc.astype(object).where(utc.notna(), "").astype(str)
    return bench


def _intro(inputs: ReportInputs, bench: pd.DataFrame | None) -> tuple[str, ...]:
    counts = pd.Series([r.kind for r in inputs.runs]).value_counts()
    runs = ", ".join(f"{counts[k]} {k}" for k in sorted(counts.index))
    where = f" under `{inputs.root}`" if inputs.root else ""
    lines = [f"Built by `snnbench report` from {len(inputs.runs)} run folders{where} ({runs})."]
    if bench is not None:
        newest = max(bench["utc"], default="") or "unknown"
        lines.append(
            f"Benchmark rows: {len(bench)} configurations on {bench['machine_id'].nunique()} "
            f"machine(s); newest measurement {newest}. Times are medians of per-call "
            "samples; `~` marks IQR/median > 10 %. Where a configuration was measured in "
            "several runs in the same environment, the newest run's row is shown, and each "
            "table's `runs` column names the run folder of every cell."
        )
    return tuple(lines)


def _machines_section(bench: pd.DataFrame) -> Section:
    frame = bench.assign(device=plots.device_labels(bench))
    wanted = ["machine_id", "cpu_model", "cpu_count", "os", "jax_version", "jaxley_version"]
    columns = [c for c in wanted if c in frame]
    table = frame.groupby(columns, dropna=False, sort=True).agg(
        devices=(
            "device",
            lambda d: ", ".join(sorted(set(d[frame.loc[d.index, "status"] == "ok"]))),
        ),
        runs=("run_id", "nunique"),
    )
    return Section("Machines and software", (), table=_markdown(table.reset_index()))


def _runs_section(inputs: ReportInputs) -> Section:
    table = pd.DataFrame(
        [(r.run_id, r.kind, r.status, r.started_utc) for r in inputs.runs],
        columns=["run", "kind", "status", "started (UTC)"],
    )
    commands = "\n".join(f"# {r.run_id}\n{r.command}" for r in inputs.runs)
    text = ("Each input and the exact command that produced it (from its `run.json`):",)
    return Section("Runs", text, table=_markdown(table) + f"\n\n```bash\n{commands}\n```")


def _bench_sections(bench: pd.DataFrame, figures: _Figures) -> list[Section]:
    sized = bench
    bench = most_common_size(bench)  # the batch-size figures: one network size
    out = [
        figures.section(
            "Time per call vs batch size",
            "fig_time_vs_batch.png",
            lambda: plots.fig_time_vs_batch(bench),
            *((matmul_line(bench),) if matmul_line(bench) else ()),
            table=_time_table(bench),
        ),
        figures.section(
            "Compile time",
            "fig_compile_breakdown.png",
            lambda: plots.fig_compile_breakdown(bench),
            "Cold trace+lower and XLA compile of each jitted function (persistent compilation "
            "cache off), at the dt and batch size measured most often; each run folder's "
            "`benchmark.csv` holds every batch size.",
            table=_compile_table(bench),
        ),
        figures.section(
            "jaxley overhead over the dense twin",
            "fig_overhead_ratio.png",
            lambda: plots.fig_overhead_ratio(bench),
            "Ratio of medians, same configuration and run, at the figure's dt; 1 means parity.",
            table=_ratio_table(bench),
        ),
    ]
    if "n_edges" in sized and sized["n_edges"].nunique() > 1:
        out.append(
            figures.section(
                "Cost vs network size",
                "fig_cost_vs_size.png",
                lambda: plots.fig_cost_vs_size(sized),
                "Time per call, cold XLA compile and XLA's temporary buffers of each backend "
                "against the number of synapses (input x hidden + hidden x output), at one batch "
                "size, log-log: a slope of 1 is linear growth.",
                table=_size_table(sized),
            )
        )
    for by, title in (
        ("machine_id", "Across machines"),
        ("jaxley_version", "Across jaxley releases"),
    ):
        if by in bench and bench[by].astype(str).nunique() > 1:
            out.append(
                figures.section(
                    title, f"fig_compare_{by}.png", lambda by=by: plots.fig_compare(bench, by)
                )
            )
    return out


def most_common_size(bench: pd.DataFrame) -> pd.DataFrame:
    """Rows at one network size: the one with the most rows (ties: the tutorial's, then
    the smallest), so the batch-size figures never mix sizes in one line."""
    if "n_edges" not in bench or bench.empty:
        return bench
    counts = bench["n_edges"].value_counts()
    best = sorted(
        counts[counts == counts.max()].index,
        key=lambda e: (e != TUTORIAL_SIZE["n_edges"], e),
    )[0]
    return bench[bench["n_edges"] == best]


def _size_table(bench: pd.DataFrame) -> str | None:
    try:
        rows = plots.size_rows(bench)
    except SnnbenchError:
        return None
    rows = rows[rows["phase"].isin(plots.STEADY)]
    rows = rows.assign(value=rows.apply(_cell, axis=1))
    index = ["machine_id", "device", "backend", "precision", "phase", "batch_size"]
    table = _pivot(rows, index, "n_edges", "value", lambda c: f"{c} syn.")
    return _markdown(table.fillna("").reset_index())


def _scaling_sections(bench: pd.DataFrame, figures: _Figures) -> list[Section]:
    """Device-count series: efficiency and time per step vs global batch, one table."""
    series = bench[bench["scaling"] != ""]
    if series.empty:
        return []
    text = (
        'Data-parallel forward pass and gradient step on a `("batch",)` mesh: inputs '
        "split along the batch, parameters replicated, reductions inserted by XLA "
        "(snnbench's `docs/scaling.md` says how, and what the rows record). "
        "Efficiency is throughput(n) / (n x throughput(1)) against the 1-device row of "
        'the same series and run. On a CPU, n "devices" are partitions of the same '
        "cores: these rows measure what the sharded program and its collectives cost, "
        "not a speed-up.",
    )
    return [
        figures.section(
            "Scaling across devices: efficiency",
            "fig_scaling_efficiency.png",
            lambda: plots.fig_scaling_efficiency(series),
            *text,
            table=scaling_table(series, markdown=True),
        ),
        figures.section(
            "Scaling across devices: time per step vs global batch",
            "fig_scaling_time_vs_batch.png",
            lambda: plots.fig_scaling_time_vs_batch(series),
            "Each line is one device count; solid: the `grouped` gradient step, dashed: `jit`.",
        ),
    ]


def _time_table(bench: pd.DataFrame) -> str | None:
    rows = bench[bench["phase"].isin(plots.STEADY) & (bench["status"] == "ok")]
    if rows.empty:
        return None
    rows = rows[rows["dt_ms"] == plots.main_dt(rows)]
    rows = rows.assign(device=plots.device_labels(rows), value=rows.apply(_cell, axis=1))
    index = ["machine_id", "device", "jaxley_version", "backend", "precision", "phase"]
    table = _pivot(rows, index, "batch_size", "value", lambda c: f"b={c}")
    return _markdown(table.fillna("").reset_index())


def _compile_table(bench: pd.DataFrame) -> str | None:
    phases = ("forward_trace_lower", "forward_compile", "grad_trace_lower", "grad_compile")
    rows = bench[bench["phase"].isin(phases) & (bench["status"] == "ok")]
    if rows.empty:
        return None
    rows = rows[rows["dt_ms"] == plots.main_dt(rows)]
    rows = rows[rows["batch_size"] == plots.common_batch(rows)]
    rows = rows.assign(device=plots.device_labels(rows), value=rows.apply(_cell, axis=1))
    index = ["machine_id", "device", "jaxley_version", "backend", "precision", "batch_size"]
    table = _pivot(rows, index, "phase", "value", str)
    table = table[[p for p in phases if p in table.columns] + ["runs"]]
    return _markdown(table.fillna("").reset_index())


def _ratio_table(bench: pd.DataFrame) -> str | None:
    """jaxley/dense per batch size at the figure's dt (other dts would overwrite its cells)."""
    if "jaxley_over_dense" not in bench:
        return None
    rows = bench[bench["phase"].isin(plots.STEADY) & bench["jaxley_over_dense"].notna()]
    if rows.empty:
        return None
    rows = rows[rows["dt_ms"] == plots.main_dt(rows)]
    rows = rows.assign(
        device=plots.device_labels(rows), ratio=rows["jaxley_over_dense"].map("{:.2f}x".format)
    )
    index = ["machine_id", "device", "jaxley_version", "precision", "phase"]
    table = _pivot(rows, index, "batch_size", "ratio", lambda c: f"b={c}")
    return _markdown(table.fillna("").reset_index())


def _problems_section(bench: pd.DataFrame) -> Section:
    rows = bench[bench["status"] != "ok"]
    if rows.empty:
        return Section("Skipped and failed cases", ("None: every case ran.",))
    table = rows.groupby(["status", "reason"], sort=True).agg(
        cases=("case_id", "count"), example=("case_id", "min")
    )
    return Section("Skipped and failed cases", (), table=_markdown(table.reset_index()))


# ---------------------------------------------------------------- trade-offs and profiling


def _tradeoff_table(frame: pd.DataFrame) -> str:
    """The trade-off study's own headline table (all columns if it lacks the point columns)."""
    if {"backend", "precision", "dt_ms"} <= set(frame):
        return tradeoffs_summary_table(frame)
    return _markdown(frame)


def _latest_per_machine(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The newest run per machine (run ids are ``machine/UTC-stamp...``; stamps sort in time)."""
    latest: dict[str, str] = {}
    for run_id in sorted(tables):
        latest[run_id.split("/")[0]] = run_id
    return {run_id: tables[run_id] for run_id in sorted(latest.values())}


def _tradeoff_sections(tables: dict[str, pd.DataFrame], figures: _Figures) -> list[Section]:
    if not tables:
        return [
            Section(
                "dt and precision trade-off", (f"No trade-off results: {HOW_TO_GET['tradeoffs']}.",)
            )
        ]
    out = []
    for run_id, frame in _latest_per_machine(tables).items():
        name = f"fig_pareto_{run_id.split('/')[0]}.png"

        def draw(frame=frame) -> Figure:
            return plots.fig_tradeoffs(frame)

        text = (
            f"From `{run_id}/{storage.TABLES['tradeoffs']}`. Labels give dt in ms; the dashed "
            "line is the Pareto front.",
        )
        out.append(
            figures.section(
                f"dt and precision trade-off ({run_id})",
                name,
                draw,
                *text,
                table=_tradeoff_table(frame),
            )
        )
    return out


#: Profiling columns worth a table (whichever are present).
_PROFILE_COLUMNS = (
    "backend", "precision", "platform", "function", "phase", "batch_size", "trace_s", "lower_s",
    "compile_s", "jaxpr_eqns", "hlo_instructions", "xla_flops", "xla_bytes_accessed",
    "xla_temp_bytes", "xla_generated_code_bytes",
)  # fmt: skip


def _profile_sections(memory: dict, profile: dict, figures: _Figures) -> list[Section]:
    if not memory and not profile:
        return [
            Section("Memory and program size", (f"No profiling results: {HOW_TO_GET['profile']}.",))
        ]
    out = []
    for run_id, frame in _latest_per_machine(memory).items():
        name = f"fig_memory_{run_id.split('/')[0]}.png"
        out.append(
            figures.section(
                f"Memory ({run_id})",
                name,
                lambda f=frame: plots.fig_memory(f),
                f"From `{run_id}/{storage.TABLES['memory']}`.",
            )
        )
    for run_id, frame in _latest_per_machine(profile).items():
        columns = [c for c in _PROFILE_COLUMNS if c in frame]
        text = (f"From `{run_id}/{storage.TABLES['profile']}`.",)
        out.append(
            Section(
                f"Program size and staging ({run_id})",
                text,
                table=_markdown(frame[columns] if columns else frame),
            )
        )
    return out


# ---------------------------------------------------------------- rendering and writing


def render(report: Report) -> str:
    """The markdown page; images are linked relative to the page."""
    lines = ["# snnbench report", "", *report.intro, ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""] if not paragraph.startswith("- ") else [paragraph]
        if section.text and section.text[-1].startswith("- "):
            lines.append("")
        if section.figure:
            lines += [f"![{section.title}]({IMAGES}/{section.figure})", ""]
        if section.table:
            lines += [section.table, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


@dataclass(frozen=True)
class Written:
    """What :func:`write_report` wrote."""

    page: Path
    images: tuple[Path, ...]
    notes: tuple[str, ...]


def write_report(results_dir: str | Path, out_dir: str | Path) -> Written:
    """Read ``results_dir``, write ``out_dir/REPORT.md`` and ``out_dir/report/*.png``."""
    return write_report_from(load_inputs(results_dir), out_dir)


def write_report_from(inputs: ReportInputs, out_dir: str | Path) -> Written:
    """Write the report of ``inputs`` into ``out_dir``.

    Each file is written atomically; the page last, so it never links an image
    that is not there yet. Old ``fig_*.png`` files the new page no longer uses
    are removed.
    """
    out = Path(out_dir)
    storage.check_writable(out)
    report = build_report(inputs)
    images = out / IMAGES
    images.mkdir(parents=True, exist_ok=True)
    written = tuple(
        plots.save_png(fig, images / name) for name, fig in sorted(report.figures.items())
    )
    page = out / PAGE
    storage.atomic_write_text(page, render(report))
    for stale in sorted(images.glob("fig_*.png")):
        if stale.name not in report.figures:
            stale.unlink()
    notes = tuple(t for s in report.sections for t in s.text if t.startswith("_No figure"))
    return Written(page, written, notes)
