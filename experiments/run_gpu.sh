#!/usr/bin/env bash
# One run on a lent GPU machine (one H100): every study's `gpu` config, each under its own
# time limit so one slow study cannot eat the others' time, everything packed into one archive.
# Usage there: OUT=results_dir bash experiments/run_gpu.sh   (wheels for mnist1d and the KJV corpus in .whl/)
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OPTASCHED_CACHE="${OPTASCHED_CACHE:-/tmp/optasched_cache}"
OUT="${OUT:-gpu_results}"
mkdir -p "$OUT/runs"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import jax, optax, flax; print('jax', jax.__version__, 'optax', optax.__version__, 'flax', flax.__version__, jax.devices())"
} 2>&1 | tee "$OUT/runs/machine.txt"
# study:seconds (the study's gpu config is sized to finish inside it). SET_<study> adds
# --set overrides for a follow-up run, e.g. SET_lottery_tickets="seeds=12".
for entry in ${STUDIES:-zoo:110 transformer_warmup:140 diffusion:140 lottery_tickets:140}; do
  name="${entry%%:*}"; limit="${entry##*:}"
  overrides="SET_$name"; sets=()
  for item in ${!overrides:-}; do sets+=(--set "$item"); done
  start=$(date +%s)
  timeout "$limit" python3 -m experiments."$name" --config gpu "${sets[@]}" --out "$OUT/runs/$name" --no-progress \
    > "$OUT/runs/$name.log" 2>&1
  echo "$name: exit $? after $(( $(date +%s) - start )) s (limit $limit s)" | tee -a "$OUT/runs/summary.txt"
done
tar -C "$OUT" -czf "$OUT/gpu_runs.tar.gz" runs && rm -rf "$OUT/runs"
