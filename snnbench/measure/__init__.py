"""Measuring: what was measured (records, phases), how (timing, the harness), the
matrix and its process supervisor (runner, the pytest plugin), who measured it
(machine), and where it is kept (storage)."""
