#!/bin/bash
# The scaling run on one machine with several GPUs (unverified: no GPU was available
# when this was written). Run from a snnbench checkout with jax[cuda12] installed:
#
#   bash docs/examples/gpu-scaling.sh
#
# Each device count runs in its own process on the first N GPUs JAX sees; a count
# larger than the GPUs present gives skipped rows with the reason. With one GPU
# only the 1-device baseline runs.
set -euo pipefail
COUNTS="${COUNTS:-1,2,4,8}"

# Data-parallel series: forward pass and gradient step, both formulations.
snnbench bench --device gpu --devices "$COUNTS" --scaling weak,strong --data-parallel grouped,jit --backend jaxley,dense --precision float32,float64 --batch-size 16,64 --phases forward,grad_step,compile --no-progress

# The same step across processes (one jax.distributed job of 2 local processes).
snnbench bench --device gpu --processes 2 --devices 2,4 --scaling weak --backend jaxley,dense --precision float32 --batch-size 64 --phases forward,grad_step --no-progress

snnbench report
