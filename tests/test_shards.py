"""Matrix shards: the union is the matrix, shards are disjoint, balanced, and merge back."""

import random
import re
import shlex
import textwrap
from pathlib import Path

import pytest

from snnbench import cli
from snnbench.cli.bench_commands import matrix_from_args
from snnbench.errors import SnnbenchError
from snnbench.measure import runner, shards, storage
from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, Matrix
from snnbench.regress.compare import compare_frames
from snnbench.render.compare_text import render_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SERIES = Matrix(
    backends=("dense", "jaxley"),
    batch_sizes=(8, 32),
    precisions=("float64", "float32"),
    platforms=("cpu",),
    dts_ms=(1e-3,),
    phases=("forward", "grad_step"),
    device_counts=(1, 2, 4),
    scalings=("weak", "strong"),
    data_parallel=("grouped", "jit"),
)
MATRICES = {"quick": QUICK_MATRIX, "full": FULL_MATRIX, "series": SERIES}


@pytest.mark.parametrize("name", MATRICES)
@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 500])
def test_shards_are_disjoint_and_their_union_is_the_matrix(name, count):
    cases = MATRICES[name].cases()
    parts = shards.split(cases, count)
    assert len(parts) == count
    ids = [c.case_id for part in parts for c in part]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(c.case_id for c in cases)
    owner = {}
    for k, part in enumerate(parts):  # a block (one build, one device-count series) stays whole
        for case in part:
            assert owner.setdefault(shards.block_key(case), k) == k


@pytest.mark.parametrize("name", MATRICES)
@pytest.mark.parametrize("count", [2, 3, 4, 8])
def test_shards_are_balanced(name, count):
    cases = MATRICES[name].cases()
    blocks: dict = {}
    for case in cases:
        blocks[shards.block_key(case)] = blocks.get(shards.block_key(case), 0.0) + 3.0
        blocks[shards.block_key(case)] += shards.case_cost(case)
    loads = [sum(shards.case_cost(c) for c in part) for part in shards.split(cases, count)]
    share = sum(shards.case_cost(c) for c in cases) / count
    assert max(loads) <= 1.15 * share + max(blocks.values())


def test_every_device_count_of_a_series_lands_in_one_shard():
    for part in shards.split(SERIES.cases(), 4):
        series = {(c.scaling, c.backend, c.precision, c.per_device_batch) for c in part}
        for case in part:
            if case.devices > 1 and case.scaling == "weak":
                key = (case.scaling, case.backend, case.precision, case.per_device_batch)
                assert key in series and any(c.devices == 1 for c in part)


def test_the_split_and_the_campaign_do_not_depend_on_order_or_machine():
    cases = FULL_MATRIX.cases()
    first = [[c.case_id for c in part] for part in shards.split(cases, 5)]
    again = [[c.case_id for c in part] for part in shards.split(list(cases), 5)]
    assert first == again
    shuffled = list(cases)
    random.Random(0).shuffle(shuffled)
    assert shards.campaign_id(cases, 5) == shards.campaign_id(shuffled, 5)
    assert shards.campaign_id(cases, 5) != shards.campaign_id(cases, 4)
    assert re.fullmatch(r"c[0-9a-f]{12}", shards.campaign_id(cases, 5))


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_a_bad_shard_is_one_line_naming_it(text):
    with pytest.raises(SnnbenchError, match="`shard` must be K/N"):
        shards.Shard.parse(text)
    assert str(shards.Shard.parse(" 2 / 4 ")) == "2/4"


FAKE_BENCH = textwrap.dedent(
    """
    from snnbench.measure.records import Measurement

    def test_case(case, benchmark, record, mark_started):
        mark_started(case)
        benchmark.pedantic(lambda: None, rounds=1)
        record(Measurement(case, samples_s=(0.001, 0.002)))
    """
)


def test_shard_runs_record_their_shard_and_merge_with_the_missing_one_named(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_fake.py").write_text(FAKE_BENCH)
    matrix = Matrix(
        backends=("dense",),
        batch_sizes=(1, 2, 3),
        precisions=("float64",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("forward", "grad_step"),
    )
    results = tmp_path / "results"
    folders = []
    for index in (1, 3):  # shard 2 of 3 never ran
        options = runner.RunOptions(
            out_root=results,
            bench=runner.BenchTarget.folder(bench),
            progress=False,
            shard=shards.Shard(index, 3),
        )
        folders.append(runner.run_matrix(matrix, options, platforms={"cpu"}))
    assert folders[0].name.endswith("-shard1of3") and folders[1].name.endswith("-shard3of3")
    campaign = shards.campaign_id(matrix.cases(), 3)
    info = storage.RunFolder(folders[0]).read_info()
    assert (info["shard"], info["campaign"], info["campaign_cases"]) == ("1/3", campaign, 6)
    frame = storage.load_results(results)
    assert set(frame["shard"]) == {"1/3", "3/3"} and set(frame["campaign"]) == {campaign}
    expected = shards.split(matrix.cases(), 3)
    assert sorted(frame["case_id"]) == sorted(c.case_id for k in (0, 2) for c in expected[k])
    assert shards.missing_shards(frame) == {campaign: ["2/3"]}
    assert shards.describe_missing(frame) == [
        f"campaign {campaign}: shard 2/3 missing (their rows are absent from this table)"
    ]
    comparison = compare_frames(frame, frame, labels=("a", "b"))
    assert comparison.notes[0].startswith(f"a: campaign {campaign}: shard 2/3 missing")
    assert f"note: b: campaign {campaign}: shard 2/3 missing" in render_text(comparison)
    # the journal alone (a shard that died before its table) still says which shard it was
    (folders[1] / storage.TABLE).unlink()
    assert set(storage.load_results(folders[1])["shard"]) == {"3/3"}


def _example_commands(path: Path) -> list[list[str]]:
    """The ``snnbench bench`` lines of an example file, as argument lists."""
    commands = []
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("run:").strip()
        if line.startswith("snnbench bench"):
            commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("name", ["github-actions-shards.yml", "slurm-array.sh"])
def test_the_example_campaigns_split_their_matrix_exactly(name):
    (command,) = _example_commands(EXAMPLES / name)
    count = None
    parts = []
    for index in (1, 2, 3, 4):
        argv = [re.sub(r"^\$\{?\w+\}?/(\d+)$", rf"{index}/\1", a) for a in command]
        args = cli.build_parser().parse_args(argv)
        count = args.shard.count
        matrix = matrix_from_args(args)
        parts.append(shards.split(matrix.cases(), count)[index - 1] if index <= count else [])
    ids = [c.case_id for part in parts for c in part]
    assert count == 4 and len(ids) == len(set(ids))
    assert sorted(ids) == sorted(c.case_id for c in matrix.cases())


def test_a_shard_needs_an_explicit_device(tmp_path, capsys):
    code = cli.main(["bench", "--shard", "1/2", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 2 and "`--shard` needs `--device`" in capsys.readouterr().err
