"""The trade-off page's evidence sections: the reference's convergence, the surrogates,
why spikes go missing, and scenario (b). Each is built from one of the study's tables.
"""

from __future__ import annotations

import pandas as pd

#: dt in ms as the page writes it (1e-3 multiples, as the tutorial's dt is 1e-3).
_DT_UNIT = 1e-3


def dt_label(dt_ms: float) -> str:
    """``0.25e-3`` for 0.00025 ms: dt as a multiple of the tutorial's 1e-3 ms."""
    return f"{dt_ms / _DT_UNIT:g}e-3"


def _list(text: object, digits: int = 3) -> str:
    """A ``;``-joined number list as a short comma list."""
    if not isinstance(text, str) or not text:
        return ""
    return ", ".join(f"{float(v):.{digits}g}" for v in text.split(";"))


def _dts(text: str) -> str:
    return ", ".join(dt_label(float(v)) for v in text.split(";"))


def _estimate(value: float) -> str:
    return "none (no limit)" if not pd.notna(value) or value == float("inf") else f"{value:.3g}"


def _cosine(value: float) -> str:
    return f"{value:.5f}" if pd.notna(value) and value > 0.999 else f"{value:.4f}"


def convergence_section(convergence: pd.DataFrame) -> str:
    """'Does the reference converge?': one row per checked quantity, then a plain verdict."""
    rows = []
    for _, row in convergence.iterrows():
        rows.append(
            {
                "quantity": row["description"],
                "surrogate": row["surrogate"],
                "steps (ms)": _dts(row["dts_ms"]),
                "successive differences": _list(row["differences"]),
                "observed orders": _list(row["orders"], 2),
                "reference error (est.)": _estimate(row["reference_error"]),
                "tolerance": _estimate(row["tolerance"]),
                "converged": "yes" if row["converged"] else "**no**",
            }
        )
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    ok = convergence[convergence["converged"].astype(bool)]
    bad = convergence[~convergence["converged"].astype(bool)]

    def names(frame: pd.DataFrame) -> str:
        return "; ".join(
            f"{r['description']}"
            + ("" if r["surrogate"] == "any" else f" ({r['surrogate']})")
            + ("" if frame is ok else f": {r['reason'].removeprefix('not converged: ')}")
            for _, r in frame.iterrows()
        )

    lines = [
        "## Does the reference converge?\n",
        "Each quantity is computed at a chain of halved steps through the reference "
        "(dense twin, float64). A method of order p shrinks successive differences by "
        "2^p per halving; the observed order and Richardson's estimate of the reference's "
        "distance from the dt -> 0 limit come from the three finest steps. A quantity is "
        "converged when that estimate is within the tolerance (differences that grow, "
        "stall or shrink with order below 0.5 give no estimate). Forward quantities "
        "do not depend on the surrogate (`any`).\n",
        table + "\n",
        f"**Converged:** {names(ok) or 'none'}.\n",
        f"**Not converged:** {names(bad) or 'none'}.\n",
    ]
    for _, row in convergence[convergence["quantity"] == "gradient"].iterrows():
        limit = ""
        if pd.notna(row.get("reference_vs_limit_cosine")):
            limit = (
                f" Against the extrapolated limit the reference gradient has cosine "
                f"{row['reference_vs_limit_cosine']:.6f} and norm ratio "
                f"{row['reference_vs_limit_norm_ratio']:.4f}."
            )
        lines.append(
            f"Gradient ({row['surrogate']}): cosines between successive halvings "
            f"{_list(row['cosines'], 6)}; norm ratios coarse / fine "
            f"{_list(row['norm_ratios'], 4)}; the reference's norm is "
            f"{row['reference_norm']:.4g}.{limit}\n"
        )
    return "\n".join(lines)


def surrogate_section(frame: pd.DataFrame) -> str:
    """Per-step vs per-time surrogate across dt: gradient fidelity and the trained outcome."""
    shown = frame[
        (frame["precision"] == "float64") & (frame["backend"] == frame["backend"].iloc[0])
    ]
    rows = []
    for _, row in shown.sort_values(["dt_ms", "surrogate"]).iterrows():
        low, high = row.get("grad_cosine_vs_limit_low"), row.get("grad_cosine_vs_limit_high")
        no_limit = pd.isna(low) or (low, high) == (-1.0, 1.0)
        bounds = "no limit" if no_limit else f"{_cosine(low)} to {_cosine(high)}"
        rows.append(
            {
                "dt (ms)": dt_label(row["dt_ms"]),
                "surrogate": row["surrogate"],
                "grad norm": f"{row['grad_norm']:.4g}",
                "grad cos vs its reference": _cosine(row["grad_cosine"]),
                "grad cos vs the limit": bounds,
                "trained loss (own sim)": f"{row.get('train_loss', float('nan')):.4f}",
                "trained acc (own sim)": f"{row.get('train_accuracy', float('nan')):.3f}",
                "trained acc (on ref)": f"{row.get('train_accuracy_on_reference', float('nan')):.3f}",
            }
        )
    return "\n".join(
        [
            "## Per-step vs per-time surrogate\n",
            "The tutorial's surrogate adds a fixed-size derivative per step; the per-time one "
            "scales it by dt / 1e-3 ms, so both agree at the tutorial's dt and the forward pass "
            f'is the same. Float64, {shown["backend"].iloc[0]} backend. "vs the limit" bounds '
            "the cosine with the extrapolated dt -> 0 gradient (from the reference's "
            'estimated error; "no limit" where the gradient does not converge). Training: '
            "Adam from the tutorial's initial weights, each setting on its own simulation.\n",
            pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n",
        ]
    )


def _loss(count: float, truth: float) -> str:
    return f"{100 * (count - truth) / truth:+.1f} %" if truth else "n/a"


def spike_loss_section(sweep: pd.DataFrame, meta: pd.Series) -> str:
    """Why coarse steps lose input spikes: the threshold margin and the kernel sensitivity."""
    kernel = float(str(meta.get("kernel_na", "508")).split(";")[0])
    own = sweep[sweep["kernel_na"] == kernel]
    lines = ["## Why input spikes go missing (scenario (a))\n"]
    if not own.empty:
        first = own.iloc[0]
        margin = 100 * (first["pulse_peak_mv"] - 1.0)
        lines.append(
            f"One input pulse ({kernel:g} nA for {2 * float(meta['source_dt_ms']) * 1e3:g} us) "
            f"from rest peaks at {first['pulse_peak_mv']:.5f} mV in continuous time, "
            f"{margin:.2f} % above the 1 mV threshold, and stays at or above it for "
            f"{first['pulse_above_threshold_us']:.3f} us; the smallest amplitude that fires at "
            f"all is {first['smallest_firing_na']:.2f} nA. A coarse step that averages the pulse "
            "over a longer interval, or integrates it with implicit Euler's extra damping, or "
            "checks the threshold only after the voltage has decayed, can miss it.\n"
        )
    pivot = sweep.assign(
        loss=[
            _loss(a, t)
            for a, t in zip(sweep["implicit_euler"], sweep["continuous_time"], strict=True)
        ]
    ).pivot(index="dt_ms", columns="kernel_na", values="loss")
    pivot.index = [dt_label(d) for d in pivot.index]
    pivot.columns = [f"{k:g} nA" for k in pivot.columns]
    lines += [
        "Input spikes fired by the task (implicit Euler, step-averaged input, threshold "
        "checked on the grid) relative to the continuous-time model's count for the same "
        "drawn spikes (exact integration, reset at the crossing), per kernel amplitude:\n",
        pivot.rename_axis("dt (ms)").to_markdown(disable_numparse=True) + "\n",
    ]
    if not own.empty:
        split = pd.DataFrame(
            {
                "dt (ms)": [dt_label(d) for d in own["dt_ms"]],
                "continuous time": own["continuous_time"].astype(int),
                "implicit Euler, averaged input, grid check (the task)": [
                    _loss(a, t)
                    for a, t in zip(own["implicit_euler"], own["continuous_time"], strict=True)
                ],
                "exact, averaged input, grid check": [
                    _loss(a, t)
                    for a, t in zip(own["exact_averaged"], own["continuous_time"], strict=True)
                ],
                "exact, input as drawn, grid check": [
                    _loss(a, t)
                    for a, t in zip(own["exact_unaveraged"], own["continuous_time"], strict=True)
                ],
            }
        )
        lines += [
            f"Where the loss comes from at {kernel:g} nA: each column changes one thing.\n",
            split.to_markdown(index=False, disable_numparse=True) + "\n",
        ]
    return "\n".join(lines)


def redrawn_section(redrawn: pd.DataFrame, meta: pd.Series) -> str:
    """Scenario (b): the tutorial re-run at each dt with its own draws."""
    first = redrawn.sort_values("dt_ms").drop_duplicates("dt_ms")
    trained = (
        redrawn.pivot(index="dt_ms", columns="surrogate", values="train_accuracy")
        if ("train_accuracy" in redrawn)
        else pd.DataFrame()
    )
    rows = []
    for _, row in first.iterrows():
        out = {
            "dt (ms)": dt_label(row["dt_ms"]),
            "drawn": int(row["drawn"]),
            "fired (task)": int(row["input_spikes"]),
            "lost": f"{100 * row['input_spike_loss']:.2f} %",
            "continuous time, same current": int(row["continuous_time"]),
            "hidden spikes": int(row["hidden_spikes"]),
            "initial acc": f"{row['accuracy']:.3f}",
        }
        for surrogate in trained.columns:
            out[f"trained acc ({surrogate})"] = f"{trained.loc[row['dt_ms'], surrogate]:.3f}"
        rows.append(out)
    return "\n".join(
        [
            "## Scenario (b): the tutorial re-run at each dt with its own draws\n",
            "What a user gets by changing only `dt`: spikes are drawn with probability "
            "rate x dt per step and each becomes a pulse of "
            f"{len(str(meta.get('kernel_na', '508;508')).split(';'))} steps, so a pulse's charge "
            "scales with dt. Every dt is then a different model, compared with itself (spikes "
            "fired vs drawn; the continuous-time count of the same current) and by its own "
            "trained accuracy, not against a common reference. Dense twin, float64.\n",
            pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n",
        ]
    )
