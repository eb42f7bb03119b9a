#!/usr/bin/env bash
# Train the SAC behaviour policies behind the gen-{hopper,halfcheetah,walker2d}-* datasets,
# the three environments at once, then install their medium/expert actors with select_policies.py.
#
#   bash scripts/train_policies.sh [MAX_STEPS] [SAVE_DIR] [POLICY_DIR]
#
# MAX_STEPS (default 1000000) is per environment; SAVE_DIR (default runs) holds the SAC runs;
# POLICY_DIR (default: $CLUE_JAX_POLICY_DIR or clue_jax/policies) receives
# <env>/{medium,expert}.msgpack and <env>/medium_replay.hdf5. A killed run continues from its
# last checkpoint with RESUME=1. Set TIME_LIMIT (seconds) to stop every run after that long:
# each run keeps the snapshots it evaluated (their steps are in snapshots.json), and
# select_policies.py chooses among those. SAC_FLAGS adds train_sac.py flags (e.g.
# "--eval_interval=5000"). JAX picks the device (one GPU is shared by the three).
set -uo pipefail
cd "$(dirname "$0")/.."
MAX_STEPS=${1:-1000000}
SAVE_DIR=${2:-runs}
POLICY_DIR=${3:-}
PYTHON=${PYTHON:-python}
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # three processes share one accelerator
resume=()
[[ "${RESUME:-0}" == 1 ]] && resume=(--resume)
limit=()
[[ -n "${TIME_LIMIT:-}" ]] && limit=(timeout -s INT "$TIME_LIMIT")
mkdir -p "$SAVE_DIR"
pids=()
for env in Hopper-v5 HalfCheetah-v5 Walker2d-v5; do
  "${limit[@]}" "$PYTHON" train_sac.py --env_name="$env" --seed=0 --max_steps="$MAX_STEPS" \
    --save_dir="$SAVE_DIR" --notqdm "${resume[@]}" ${SAC_FLAGS:-} > "$SAVE_DIR/train_sac_$env.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
status=0
for env in Hopper-v5 HalfCheetah-v5 Walker2d-v5; do
  "$PYTHON" select_policies.py --run_dir="$SAVE_DIR/sac/$env/seed_0" --ref_episodes=0 \
    ${POLICY_DIR:+--policy_dir="$POLICY_DIR"} || status=1
done
exit $status
