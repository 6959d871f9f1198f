"""``python -m snnbench`` runs the CLI."""

import sys

from snnbench.cli import main

sys.exit(main())
