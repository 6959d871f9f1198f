"""``snnbench profile`` end to end on a tiny configuration, and its one-line errors."""

import jax
import pandas as pd
import pytest

from snnbench import SnnbenchError, cli
from snnbench.measure.records import EXACT_METRICS, SCHEMA_VERSION
from snnbench.studies.profile import study as profile

TINY = [
    "--backend",
    "dense",
    "--batch-size",
    "2",
    "--t-max-ms",
    "0.01",
    "--precision",
    "float32",
    "--trace-steps",
    "2",
    "--top",
    "3",
    "--no-progress",
]


def test_tiny_profile_writes_every_table_and_a_trace(tmp_path, capsys):
    code = cli.main(
        [
            "profile",
            *TINY,
            "--phases",
            "grad_step",
            "--memory-batch-sizes",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    (run_dir,) = tmp_path.glob("*/*-profile")
    for name in (
        "profile.csv",
        "memory.csv",
        "memory_fit.csv",
        "top_ops.csv",
        "snn_metrics.csv",
        "summary.md",
        "run.json",
    ):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "traces" / "dense").rglob("*.trace.json.gz"))

    rows = pd.read_csv(run_dir / "profile.csv")
    assert rows["phase"].tolist() == ["grad_trace", "grad_lower", "grad_compile", "grad_step"]
    assert (rows["status"] == "ok").all() and (rows["schema_version"] == SCHEMA_VERSION).all()
    assert set(rows["precision"]) == {"float32"} and set(rows["platform"]) == {"cpu"}
    for column in (*EXACT_METRICS, "xla_analysis_note", "machine_id", "jax_version"):
        assert column in rows, column
    compiled = rows.set_index("phase").loc["grad_compile"]
    assert compiled["xla_flops"] > 0 and compiled["xla_temp_bytes"] > 0
    traced = rows.set_index("phase").loc["grad_trace"]
    assert traced["jaxpr_eqns"] > traced["jaxpr_eqns_top_level"] > 0
    assert rows.set_index("phase").loc["grad_step", "sample_steps_per_s"] > 0

    memory = pd.read_csv(run_dir / "memory.csv")
    (child,) = memory.to_dict("records")  # one batch size, measured in a fresh process
    assert child["status"] == "ok" and child["batch_size"] == 2
    assert child["peak_rss_bytes"] >= child["rss_after_build_bytes"] > 0
    assert pd.isna(child["device_peak_bytes"])  # the CPU reports no memory_stats()
    assert "no memory_stats()" in child["memory_note"]
    assert child["xla_buffer_bytes"] == (
        child["xla_argument_bytes"] + child["xla_output_bytes"] + child["xla_temp_bytes"]
    )
    assert child["machine_memory_bytes"] > child["peak_rss_bytes"]
    fits = pd.read_csv(run_dir / "memory_fit.csv")
    assert fits.empty and "bytes_per_sample" in fits  # one batch size: nothing to fit

    top = pd.read_csv(run_dir / "top_ops.csv")
    assert 1 <= len(top) <= 3 and (top["status"] == "ok").all()
    assert top["rank"].tolist() == list(range(1, len(top) + 1))
    assert top["self_s_per_step"].is_monotonic_decreasing

    snn = pd.read_csv(run_dir / "snn_metrics.csv")
    rates = snn[snn["metric"] == "spike_rate_hz"].set_index("layer")["value"]
    per_step = snn[snn["metric"] == "spikes_per_neuron_per_step"].set_index("layer")["value"]
    assert set(rates.index) == {"input", "hidden"}
    assert rates["input"] == pytest.approx(per_step["input"] / 1e-6)  # dt = 1e-3 ms
    peak = snn[snn["metric"] == "peak_flop_per_s"].iloc[0]
    assert pd.isna(peak["value"]) and peak["note"] == "peak unknown"

    summary = (run_dir / "summary.md").read_text()
    for heading in (
        "## Compile breakdown",
        "## XLA's analysis",
        "## Memory by batch size",
        "## Most expensive operations",
        "ui.perfetto.dev",
        "extrapolation",
    ):
        assert heading in summary
    assert str(run_dir) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "brian2"], "`--backend` must be one of jaxley, dense; got 'brian2'."),
        (["--phases", "backward"], "`--phases` must be one of forward, grad_step; got 'backward'."),
        (["--device", "fpga"], "`--device` must be one of cpu, gpu, tpu; got 'fpga'."),
        (
            ["--precision", "float16"],
            "`--precision` must be one of float32, float64; got 'float16'",
        ),
        (["--dt-ms", "0.003"], "`--dt-ms` must be a step that divides"),
        (["--trace-steps", "0"], "argument --trace-steps: expected a positive integer, got '0'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert cli.main(["profile", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("snnbench: error: ")
    assert message in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_device_jax_cannot_see_is_bad_input(tmp_path):
    options = profile.ProfileOptions(out_root=tmp_path, platform="gpu", progress=False)
    with pytest.raises(SnnbenchError, match="`platform` must be a platform with JAX"):
        profile.run_profile(options, platforms={"cpu"})
    assert not list(tmp_path.iterdir())


def test_the_cpu_backend_is_what_this_test_machine_has():
    assert jax.devices("cpu")
