"""From "slower" to the culprit: bisect the packages or the commits between two sides.

Every step is a real gate verdict: an ``ab`` job (:func:`snnbench.regress.ab.run_ab`)
between two environments, on the rows that regressed only, with few rounds; the
job itself adds rounds while a row is inconclusive. The one function that talks
to the gate is :func:`gate`.

- **Packages.** pip resolves both sides (``pip install --dry-run --report``).
  The packages whose versions differ are grouped so that packages that must
  move together do (:func:`package_groups`); the search walks from A towards B
  one group at a time, each step judged against the step before it, so each
  step's verdict is that group's own measured effect. A group whose step is
  slower is a culprit; when it is not the first step, it is also tried alone on
  A, to say whether it carries the regression by itself or needs the groups
  moved before it.
- **Commits.** A binary search between a good and a bad revision, each step
  judged against the good one. A revision that fails to install or run is
  skipped (as ``git bisect skip``), with the reason; an inconclusive step is
  skipped the same way. The culprit is confirmed against its parent (its own
  effect) and the bad end against the culprit: still slower means a second
  regression later in the range, faster means an effect that comes and goes.

Every step is journalled (``steps.jsonl``) as it ends; a search started again
on the same folder reuses the journalled verdicts instead of measuring again.
A budget bounds the whole search.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.matrix import Matrix
from snnbench.regress import ab, envs
from snnbench.regress.envs import Environment
from snnbench.regress.verdict import FASTER, INCONCLUSIVE, NO_CHANGE, SLOWER

#: What a step can say: a verdict of the gate, or that it could not run.
SKIPPED = "skipped"
#: Outcomes of a whole search (and their exit codes in the CLI: 1, 0, 3).
FOUND, CLEAN, UNDECIDED = "found", "clean", "inconclusive"
JOURNAL = "steps.jsonl"
INFO = "bisect.json"
#: Few rounds per step (the gate adds more while a row is inconclusive).
STEP_ROUNDS = 4
STEP_MAX_ROUNDS = 12


@dataclass(frozen=True)
class RowEffect:
    """One regressed row's estimate in one step: candidate / baseline and its interval."""

    case: str
    phase: str
    verdict: str
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None


@dataclass(frozen=True)
class Judgement:
    """What the gate said about one pair of environments."""

    verdict: str
    rows: tuple[RowEffect, ...] = ()
    rounds: int = 0
    folder: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a search, as journalled and reported.

    Attributes:
        index: its order in the search.
        kind: "endpoints", "package", "alone", "commit", "confirm" or "after".
        change: what moved (``jax 0.4.31 -> 0.10.2, jaxlib ...``, or a commit).
        baseline / candidate: the two sides' labels (the journal's key).
        judgement: the gate's verdict, rows and rounds (or why it was skipped).
        elapsed_s: measuring and building time of the step.
    """

    index: int
    kind: str
    change: str
    baseline: str
    candidate: str
    judgement: Judgement
    elapsed_s: float = 0.0

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    def worst(self) -> RowEffect | None:
        """The row with the largest ratio (the step's headline effect)."""
        rows = [r for r in self.judgement.rows if r.ratio is not None]
        return max(rows, key=lambda r: r.ratio) if rows else None


@dataclass(frozen=True)
class BisectResult:
    """A finished (or stopped) search."""

    kind: str
    outcome: str
    culprits: tuple[str, ...]
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    folder: Path


@dataclass(frozen=True)
class BisectOptions:
    """How a search runs.

    Attributes:
        ab: the gate's options per step (rounds, limit, pinning, verdict policy).
        budget_s: no step starts once the search has used this much time.
    """

    ab: ab.AbOptions = field(
        default_factory=lambda: ab.AbOptions(rounds=STEP_ROUNDS, max_rounds=STEP_MAX_ROUNDS)
    )
    budget_s: float = 60 * 60.0


# -- the one adapter to the gate ----------------------------------------------------------


def gate(
    matrix: Matrix,
    a: Environment,
    b: Environment,
    options: ab.AbOptions,
    out_root: Path,
    say: Callable[[str], None],
) -> Judgement:
    """One ``ab`` job between ``a`` and ``b``, as a step's verdict.

    "slower" when a row regressed (or the candidate lost it), "faster" when a row
    got faster and none slower, "inconclusive" while a row stays undecided at the
    round limit, else "no change". A side that cannot run is "skipped" with its
    own error (the gate's preflight).
    """
    options = replace(options, allow_difference=("all",))
    try:
        result = ab.run_ab(matrix, {"A": a, "B": b}, options, out_root, say)
    except SnnbenchError as error:
        return Judgement(SKIPPED, reason=str(error))
    return judgement_of(result.comparison, result.rounds, str(result.folder))


def judgement_of(comparison, rounds: int, folder: str) -> Judgement:
    """A comparison (of a step, or of an earlier ``ab`` job) as a step's verdict."""
    rows = tuple(
        RowEffect(
            _describe(r.spec),
            str(r.spec.phase.value),
            r.verdict.verdict,
            r.verdict.ratio,
            r.verdict.ratio_low,
            r.verdict.ratio_high,
        )
        for r in comparison.rows
    )
    verdicts = {r.verdict for r in rows}
    # A bisect asks only "slower or not": a row left undecided between "faster" and
    # "no change" (its whole interval below the slower threshold) has answered it.
    undecided = [r for r in comparison.rows if _may_be_slower(r)]
    if comparison.regressions or comparison.lost or comparison.only_baseline:
        verdict = SLOWER
    elif undecided:
        verdict = INCONCLUSIVE
    elif FASTER in verdicts:
        verdict = FASTER
    else:
        verdict = NO_CHANGE
    return Judgement(verdict, rows, rounds, folder)


def _may_be_slower(row) -> bool:
    """Whether an inconclusive row's interval still reaches past its slower threshold."""
    high = row.verdict.ratio_high
    return row.verdict.verdict == INCONCLUSIVE and (high is None or high > 1.0 + row.threshold)


def job_verdict(job: Path) -> tuple[dict, Judgement]:
    """An ``ab`` job folder's record (``ab.json``) and its rows judged again, as it judged."""
    from snnbench.regress.compare import compare_frames

    path = Path(job) / storage.AB_JOB_INFO
    try:
        info = _read_json(path)
        criteria = replace(criteria_of(info), look=info["looks"])
        frames = [storage.load_results(Path(job) / side) for side in ab.SIDES]
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise SnnbenchError(
            f"`job` must be an ab job folder with ab.json and both sides' rows; {str(job)!r}: "
            f"{error}",
            argument="job",
        ) from None
    comparison = compare_frames(frames[0], frames[1], criteria, ("A", "B"))
    return info, judgement_of(comparison, int(info["rounds"]), str(job))


def _read_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def _describe(spec) -> str:
    return f"{spec.backend} b{spec.batch_size} {spec.precision} {spec.platform} dt={spec.dt_ms:g}"


def regressed_matrix(matrix: Matrix, judgement: Judgement) -> Matrix:
    """``matrix`` narrowed to the phases and backends of the rows that regressed."""
    slower = [r for r in judgement.rows if r.verdict == SLOWER]
    if not slower:
        return matrix
    phases = tuple(
        p for p in matrix.phases if str(getattr(p, "value", p)) in {r.phase for r in slower}
    )
    backends = tuple(b for b in matrix.backends if any(r.case.startswith(b + " ") for r in slower))
    return replace(matrix, phases=phases or matrix.phases, backends=backends or matrix.backends)


# -- the journal ---------------------------------------------------------------------------


class Journal:
    """Steps of a search in ``folder/steps.jsonl``, each appended as it ends.

    A search run again on the same folder finds a step's verdict here by its
    two sides' labels and measures nothing for it.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JOURNAL
        self.steps: list[Step] = []
        self._known: dict[tuple[str, str], Judgement] = {}
        for record in storage.read_jsonl(self.path) if self.path.exists() else []:
            judgement = record["judgement"]
            rows = tuple(RowEffect(**r) for r in judgement.pop("rows", []))
            self._known[(record["baseline"], record["candidate"])] = Judgement(
                **judgement, rows=rows
            )

    def known(self, baseline: str, candidate: str) -> Judgement | None:
        return self._known.get((baseline, candidate))

    def add(self, step: Step) -> Step:
        step = replace(step, index=len(self.steps))
        self.steps.append(step)
        if (step.baseline, step.candidate) not in self._known:
            storage.append_jsonl(self.path, asdict(step))
            self._known[(step.baseline, step.candidate)] = step.judgement
        return step


class _Search:
    """What every search shares: the gate per step, the journal, the budget."""

    def __init__(self, matrix, options: BisectOptions, journal: Journal, say, measure=gate):
        self.matrix, self.options, self.journal, self.say = matrix, options, journal, say
        self.measure = measure
        self.start = time.perf_counter()
        self.notes: list[str] = []

    def out_of_budget(self) -> bool:
        return time.perf_counter() - self.start >= self.options.budget_s

    def step(self, kind: str, change: str, a: Callable, b: Callable, labels) -> Step:
        """Judge ``b()`` against ``a()`` (environments made only when measured)."""
        known = self.journal.known(*labels)
        if known is not None:
            self.say(f"step {kind} {change}: {known.verdict} (journalled)")
            return self.journal.add(Step(0, kind, change, *labels, known))
        began = time.perf_counter()
        self.say(f"step {kind}: {change}")
        try:
            env_a, env_b = a(), b()
        except SnnbenchError as error:  # does not install: skipped, with the reason
            judgement = Judgement(SKIPPED, reason=str(error))
        else:
            out = self.journal.folder / "steps"
            judgement = self.measure(self.matrix, env_a, env_b, self.options.ab, out, self.say)
        self.say(f"  -> {judgement.verdict} {judgement.reason}".rstrip())
        step = Step(0, kind, change, *labels, judgement, time.perf_counter() - began)
        return self.journal.add(step)


# -- packages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """One resolved distribution: its version, its direct source, what it requires."""

    name: str
    version: str
    source: str = ""
    requires: tuple[str, ...] = ()

    @property
    def pin(self) -> str:
        return f"{self.name} @ {self.source}" if self.source else f"{self.name}=={self.version}"


def packages_of(report: dict) -> dict[str, Package]:
    """Normalized name -> :class:`Package` of everything a pip report resolved."""
    out = {}
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        source = item.get("download_info", {}).get("url", "") if item.get("is_direct") else ""
        name = envs.normalize(meta.get("name", ""))
        out[name] = Package(
            name, str(meta.get("version", "")), source, tuple(meta.get("requires_dist", []))
        )
    return out


def _excludes(requirement: str, target: str, version: str) -> bool:
    """Whether ``requirement`` names ``target`` and rules out its ``version``."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return False
    if envs.normalize(parsed.name) != target:
        return False
    if parsed.marker is not None and not parsed.marker.evaluate({"extra": ""}):
        return False  # an extra's requirement, or another Python's
    try:
        return not parsed.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def package_groups(a: dict[str, Package], b: dict[str, Package]) -> list[tuple[str, ...]]:
    """The packages that differ, in groups that must move together, in name order.

    Two differing packages p and q share a group when one side's p requires a q
    that the other side's q does not satisfy (jax 0.10.2 requires jaxlib 0.10.2
    exactly; an optax that needs a newer jax). Moving p alone would then be an
    environment pip refuses, so they move as one. Groups join transitively.
    """
    differ = sorted(n for n in set(a) | set(b) if _version(a, n) != _version(b, n))
    parent = {n: n for n in differ}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for here, there in ((a, b), (b, a)):
        for p in differ:
            for requirement in here[p].requires if p in here else ():
                for q in differ:
                    if q != p and q in there and _excludes(requirement, q, there[q].version):
                        parent[root(p)] = root(q)
    groups: dict[str, list[str]] = {}
    for n in differ:
        groups.setdefault(root(n), []).append(n)
    return sorted(tuple(sorted(g)) for g in groups.values())


def _version(packages: dict[str, Package], name: str) -> str:
    item = packages.get(name)
    return "" if item is None else item.source or item.version


def describe_group(group: tuple[str, ...], a: dict[str, Package], b: dict[str, Package]) -> str:
    """``jax 0.4.31 -> 0.10.2, jaxlib 0.4.31 -> 0.10.2``."""
    shown = lambda d, n: d[n].version if n in d else "absent"  # noqa: E731
    return ", ".join(f"{n} {shown(a, n)} -> {shown(b, n)}" for n in group)


def mixed_specs(a: dict[str, Package], b: dict[str, Package], moved: set[str]) -> tuple[str, ...]:
    """Exact pins of A's environment with the packages in ``moved`` taken from B."""
    names = (set(a) - moved) | (moved & set(b))
    chosen = {n: (b if n in moved else a)[n] for n in names}
    return tuple(sorted(p.pin for n, p in chosen.items() if n != "snnbench"))


def bisect_packages(
    matrix: Matrix,
    specs: dict[str, tuple[str, ...]],
    make_env: Callable[[str, tuple[str, ...]], Environment],
    resolve_report: Callable[[tuple[str, ...]], dict],
    options: BisectOptions,
    journal: Journal,
    say: Callable[[str], None] = lambda _: None,
    endpoints: Judgement | None = None,
    measure=gate,
) -> BisectResult:
    """Which package group carries the regression between A's and B's environments.

    ``make_env(side, pins)`` builds (or reuses) an environment of exact pins;
    ``resolve_report(specs)`` is pip's report for a side's specs. ``endpoints``:
    the verdict of A against B when known (an ``ab`` job that found the regression).
    """
    search = _Search(matrix, options, journal, say, measure)
    with ThreadPoolExecutor(len(ab.SIDES)) as pool:  # two pip resolutions, mostly waiting
        pa, pb = pool.map(lambda s: packages_of(resolve_report(specs[s])), ab.SIDES)
    groups = package_groups(pa, pb)
    say(f"{len(groups)} group(s) differ: " + "; ".join(describe_group(g, pa, pb) for g in groups))
    env = _memo(lambda side, moved: make_env(side, mixed_specs(pa, pb, moved)))
    label = lambda moved: "A+" + ",".join(sorted(moved)) if moved else "A"  # noqa: E731
    everything = {n for g in groups for n in g}
    if endpoints is None:
        first = search.step(
            "endpoints",
            "A -> B",
            lambda: env("A", frozenset()),
            lambda: env("B", frozenset(everything)),
            ("A", label(everything)),
        )
        endpoints = first.judgement
    if endpoints.verdict != SLOWER:
        return _finish(search, "package", endpoints, ())
    search.matrix = regressed_matrix(matrix, endpoints)
    culprits: list[str] = []
    moved: frozenset[str] = frozenset()
    for group in groups:
        if search.out_of_budget():
            search.notes.append("the budget ran out before every group was moved")
            return _finish(search, "package", Judgement(INCONCLUSIVE), tuple(culprits))
        before, after = moved, moved | set(group)
        step = search.step(
            "package",
            describe_group(group, pa, pb),
            lambda b=before: env("A", b),
            lambda a=after: env("B", a),
            (label(before), label(after)),
        )
        moved = frozenset(after)
        if step.verdict == SLOWER:
            culprits.append(step.change)
            if before:
                _try_alone(search, env, label, group, pa, pb)
        elif step.verdict == FASTER:
            search.notes.append(f"moving {step.change} made it faster")
        elif step.verdict in (INCONCLUSIVE, SKIPPED):
            search.notes.append(
                f"the step {step.change} was {step.verdict}: {step.judgement.reason}".rstrip(": ")
            )
    return _finish(
        search, "package", Judgement(SLOWER if culprits else INCONCLUSIVE), tuple(culprits)
    )


def _try_alone(search, env, label, group, pa, pb) -> None:
    alone = frozenset(group)
    step = search.step(
        "alone",
        describe_group(group, pa, pb),
        lambda: env("A", frozenset()),
        lambda: env("B", alone),
        ("A", label(alone)),
    )
    if step.verdict == SLOWER:
        search.notes.append(f"{step.change} carries the regression by itself")
    else:
        search.notes.append(
            f"{step.change} alone on A: {step.verdict}; it needs the groups moved before it"
        )


def _memo(make):
    """``make(side, key)`` built once per key (an environment, or why it does not install):
    a search measures one environment in many steps."""
    cache: dict = {}

    def get(side, key):
        key = frozenset(key) if isinstance(key, (set, frozenset)) else key
        if key not in cache:
            try:
                cache[key] = make(side, key)
            except SnnbenchError as error:
                cache[key] = error
        if isinstance(cache[key], SnnbenchError):
            raise cache[key]
        return replace(cache[key], side=side)

    return get


# -- commits -------------------------------------------------------------------------------


def commit_sides(specs: dict[str, tuple[str, ...]], repo: Path):
    """``(name, good, bad, common specs)`` when the sides differ in one NAME@REV spec of
    the same package and nothing else; None for a package bisect."""
    a, b = set(specs["A"]), set(specs["B"])
    only_a, only_b = a - b, b - a
    if len(only_a) != 1 or len(only_b) != 1:
        return None
    ga, gb = envs._GIT_SPEC.match(next(iter(only_a))), envs._GIT_SPEC.match(next(iter(only_b)))
    if not ga or not gb or ga["name"] != gb["name"] or Path(next(iter(only_a))).is_dir():
        return None
    return ga["name"], ga["rev"], gb["rev"], tuple(sorted(a & b))


def criteria_of(info: dict):
    """The verdict rules an ``ab.json`` records (lists back to tuples, the look reset)."""
    from snnbench.regress.verdict import Criteria

    options = info["options"]
    recorded = dict(options["criteria"] if "criteria" in options else options["policy"])
    recorded["phase_threshold_pct"] = tuple(
        (str(phase), float(pct)) for phase, pct in recorded.get("phase_threshold_pct", ())
    )
    recorded["look"] = 0
    return Criteria(**recorded)


def matrix_from_dict(data: dict) -> Matrix:
    """The :class:`Matrix` of an ``ab.json`` (lists back to tuples)."""
    from snnbench.measure.phases import Phase

    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    fields["phases"] = tuple(Phase(p) for p in fields.get("phases", ()))
    return Matrix(**fields)


def commit_range(repo: Path, good: str, bad: str) -> list[tuple[str, str]]:
    """``(hash, subject)`` from ``good`` (first) to ``bad`` (last), first-parent order."""
    good_hash, bad_hash = envs.resolve_revision(repo, good), envs.resolve_revision(repo, bad)
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "log",
            "--first-parent",
            "--reverse",
            "--format=%H %s",
            f"{good_hash}..{bad_hash}",
        ],
        capture_output=True,
        text=True,
    )
    subject = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%s", good_hash],
        capture_output=True,
        text=True,
    ).stdout.strip()
    later = [
        tuple(line.split(" ", 1)) if " " in line else (line, "")
        for line in done.stdout.splitlines()
    ]
    if done.returncode != 0 or not later or later[-1][0] != bad_hash:
        raise SnnbenchError(
            f"`good` must be an ancestor of `bad` (first parents); got {good!r}, {bad!r} in "
            f"{str(repo)!r}",
            argument="good",
        )
    return [(good_hash, subject), *later]


def bisect_commits(
    matrix: Matrix,
    commits: list[tuple[str, str]],
    make_env: Callable[[str, str], Environment],
    options: BisectOptions,
    journal: Journal,
    say: Callable[[str], None] = lambda _: None,
    endpoints: Judgement | None = None,
    measure=gate,
) -> BisectResult:
    """The first commit of ``commits`` (good first, bad last) that is slower than good.

    ``make_env(side, commit)`` builds the environment of one revision (raising
    :class:`SnnbenchError` when it does not install).
    """
    search = _Search(matrix, options, journal, say, measure)
    built = _memo(lambda side, i: make_env(side, commits[i][0]))
    env = lambda side, i: built(side, i)  # noqa: E731
    short = lambda i: f"{commits[i][0][:10]} {commits[i][1]}"  # noqa: E731
    last = len(commits) - 1

    def judge(kind: str, i: int, j: int) -> Step:
        return search.step(
            kind,
            short(j),
            lambda: env("A", i),
            lambda: env("B", j),
            (commits[i][0], commits[j][0]),
        )

    if endpoints is None:
        endpoints = judge("endpoints", 0, last).judgement
    if endpoints.verdict == SKIPPED:
        raise SnnbenchError(f"`good`/`bad`: an end of the range does not run: {endpoints.reason}")
    if endpoints.verdict != SLOWER:
        return _finish(search, "commit", endpoints, ())
    search.matrix = regressed_matrix(matrix, endpoints)
    good, bad, skipped = 0, last, set()
    while bad - good > 1:
        if search.out_of_budget():
            search.notes.append(
                f"the budget ran out with the culprit in {short(good + 1)} .. {short(bad)}"
            )
            return _finish(search, "commit", Judgement(INCONCLUSIVE), ())
        mid = _next_candidate(good, bad, skipped)
        if mid is None:
            search.notes.append(
                "every commit between the last good and the first bad was skipped; the culprit "
                f"is one of {', '.join(short(i) for i in range(good + 1, bad + 1))}"
            )
            return _finish(search, "commit", Judgement(INCONCLUSIVE), ())
        step = judge("commit", 0, mid)
        if step.verdict == SLOWER:
            bad = mid
        elif step.verdict in (NO_CHANGE, FASTER):
            good = mid
        else:
            skipped.add(mid)
            search.notes.append(
                f"skipped {short(mid)}: {step.verdict} {step.judgement.reason}".rstrip()
            )
    confirm = judge("confirm", good, bad)  # the culprit's own effect, against its parent
    if confirm.verdict != SLOWER:
        search.notes.append(
            f"{short(bad)} against its parent: {confirm.verdict}; the slowdown may be spread "
            "over several commits"
        )
    if bad != last:
        after = judge("after", bad, last)
        if after.verdict == SLOWER:
            search.notes.append(
                f"a second regression: the bad end is slower still than {short(bad)}"
            )
        elif after.verdict == FASTER:
            search.notes.append(
                f"the effect comes and goes: the bad end is faster than {short(bad)}"
            )
    return _finish(search, "commit", Judgement(SLOWER), (short(bad),))


def _next_candidate(good: int, bad: int, skipped: set[int]) -> int | None:
    """The middle of (good, bad), or the nearest revision to it not yet skipped."""
    mid = (good + bad) // 2
    for offset in range(bad - good):
        for i in (mid - offset, mid + offset):
            if good < i < bad and i not in skipped:
                return i
    return None


def _finish(
    search: _Search, kind: str, ending: Judgement, culprits: tuple[str, ...]
) -> BisectResult:
    if culprits and ending.verdict == SLOWER:
        outcome = FOUND
    elif ending.verdict in (NO_CHANGE, FASTER):
        outcome = CLEAN
    else:
        outcome = UNDECIDED
    if ending.verdict == SKIPPED:
        search.notes.append(f"the ends could not be compared: {ending.reason}")
    return BisectResult(
        kind,
        outcome,
        culprits,
        tuple(search.journal.steps),
        tuple(search.notes),
        search.journal.folder,
    )
