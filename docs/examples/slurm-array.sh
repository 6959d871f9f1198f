#!/bin/bash
# One benchmark campaign as a SLURM job array: array task K runs shard K of 4.
#
#   sbatch docs/examples/slurm-array.sh      # from a snnbench checkout on shared storage
#
# Every task computes the same split from the same command line, so the shards
# are disjoint and together are the whole matrix. Each writes its own run folder
# under results/ (named <machine>/<UTC stamp>-shardKof4); when the array is done,
# `snnbench report --results results` merges the campaign into one page and
# names any shard that is missing (a task that failed or never ran).
#SBATCH --job-name=snnbench-campaign
#SBATCH --array=1-4
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
#SBATCH --output=snnbench-%A_%a.log

set -euo pipefail
cd "$SLURM_SUBMIT_DIR"
# The same snnbench and JAX on every node: a virtual environment on shared storage.
source .venv/bin/activate

# --device names the devices explicitly, so every node builds the same matrix.
snnbench bench --device cpu --backend jaxley,dense --shard "${SLURM_ARRAY_TASK_ID}/4" --out results --no-progress
