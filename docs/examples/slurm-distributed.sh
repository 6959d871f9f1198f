#!/bin/bash
# The sharded gradient step across two GPU nodes, one jax.distributed job.
#
#   sbatch docs/examples/slurm-distributed.sh
#
# srun starts one snnbench process per task (here one task per GPU, 4 per node,
# 8 in all). `snnbench bench --distributed` calls jax.distributed.initialize()
# without arguments: JAX reads the job from SLURM's environment (SLURM_NTASKS,
# SLURM_PROCID, SLURM_LOCALID, the first host of SLURM_STEP_NODELIST as the
# coordinator, on port SLURM_JOB_ID % 4096 + 61440 unless JAX_COORDINATOR_PORT
# says otherwise) and gives each task the GPU of its SLURM_LOCALID. Process 0
# writes the run folder; the job measures 1 device (process 0's first GPU) and
# all 8. Unverified here: this project has run it only with simulated SLURM
# variables on one CPU machine (tests/test_distributed.py).
#SBATCH --job-name=snnbench-distributed
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --time=01:00:00
#SBATCH --output=snnbench-distributed-%j.log

set -euo pipefail
cd "$SLURM_SUBMIT_DIR"
source .venv/bin/activate   # with jax[cuda12] installed

srun snnbench bench --distributed --device gpu --backend jaxley,dense --precision float32 --batch-size 64,256 --phases forward,grad_step --data-parallel grouped,jit --out results --no-progress
