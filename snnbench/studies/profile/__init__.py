"""``snnbench profile`` and ``snnbench build-profile``: where the time and memory go."""
