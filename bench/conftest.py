"""``pytest bench`` in a checkout: the matrix's cases with snnbench's pytest plugin.

The plugin and the benchmark module ship inside the package
(``snnbench.measure.pytest_plugin``, ``snnbench.measure.bench_cases``), so an
installed snnbench benches without this folder; ``snnbench bench`` runs those.
"""

pytest_plugins = ("snnbench.measure.pytest_plugin",)
