#!/usr/bin/env bash
# The GPU check of snnbench, in one go (about 10 device-minutes on one GPU).
#
# Run from the repository root on a machine with a GPU and JAX's CUDA plugin:
#
#     OUT=/path/for/results scripts/gpu_check.sh          # the device tool sets $OUT
#     scripts/gpu_check.sh --dry-run                      # tiny, on the CPU, anywhere
#
# Packages the machine lacks (jaxley, tridiax) are installed from wheels carried
# in .whl/ into a temporary folder; nothing is fetched. docs/gpu.md says how to
# download them and what the check writes under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
SITE="$(mktemp -d)/site"
if compgen -G ".whl/*.whl" > /dev/null; then
  python -m pip install --quiet --no-deps --no-index --target "$SITE" .whl/*.whl \
    > "$OUT/pip.log" 2>&1 || { echo "wheel install failed, see $OUT/pip.log"; exit 1; }
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
exec python scripts/gpu_check.py --out "$OUT" "$@"
