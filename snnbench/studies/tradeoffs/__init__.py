"""The dt / precision trade-off study: grid and budget, the per-precision worker,
fidelity metrics, selection (Pareto, budget) and the orchestration (``study``)."""
