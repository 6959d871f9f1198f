"""Regression verdicts: statistics on two sets of samples (stats), judging matched
rows (compare), and A/B runs in separate environments (envs, ab)."""
