#!/usr/bin/env bash
# The GPU benchmark run (on a lent accelerator machine): the sweep table with K up to 1024.
# Usage there: OUT=results_dir bash experiments/benchmarks/run_gpu.sh
set -euo pipefail
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH="$PWD" OPTASCHED_CACHE="${OPTASCHED_CACHE:-$PWD/.cache_data}"
OUT="${OUT:-.}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, optax, flax; print('jax', jax.__version__, 'optax', optax.__version__, 'flax', flax.__version__, jax.devices())"
python3 experiments/benchmarks/bench_sweep.py --parts a,e,c,b,d --ks 1,8,64,256,1024 --json "$OUT/bench_sweep_gpu.json"
python3 experiments/benchmarks/bench_schedule.py --repeats 51 --json "$OUT/bench_schedule_gpu.json"
