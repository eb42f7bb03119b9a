#!/usr/bin/env bash
# Paper-scale measurements on one accelerator, in pieces that fit a time limit and resume.
#
#   TIME_LIMIT=570 bash scripts/gpu_run.sh [RUNS_DIR]      # RUNS_DIR default runs/gpu
#
# For a dry run on a CPU, shrink both parts (TABLE_ARGS are added to reproduce.py's
# arguments, e.g. fewer seeds; TABLE_FLAGS replace the budget's flags):
#   BENCH_ARGS="--seeds=2 --max_steps=1000 --cvae_steps=500 --eval_interval=500 \
#   --eval_episodes=2" TABLE_ARGS="--seeds=0,1" \
#   TABLE_FLAGS="--max_steps=1000 --eval_interval=500 --eval_episodes=2 --cvae_steps=200" \
#   EVAL_ARGS="--envs=hopper --episodes=4 --max_steps=50" TIME_LIMIT=900 \
#   bash scripts/gpu_run.sh runs/dry
#
# 1. One row of Table 3 at the paper's budget (reproduce.py --preset=table3 --budget=paper):
#    gen-hopper-medium-v0, CLUE with K = 1, 5, 10 x 10 seeds, 1M updates each, as one
#    program (--group=method);
# 2. bench/bench_e2e.py: the main job (CLUE, point maze, CVAE 1e4 + IQL 2e4 updates, 10
#    episodes every 5e3) as one run and as --seeds=0-9; once per RUNS_DIR;
# 3. IQL on the true rewards (10 runs as one program; about 5-6 minutes on an H200,
#    estimated from CLUE's 30 stacked runs there);
# 4. bench/bench_eval_backends.py: the shipped experts, host vs device (MJX), walker2d (whose
#    difference 100 paired episodes on a CPU could not settle: their differences' spread, 48
#    points, needs about 8,800 pairs for a 95% interval of +-1 point) and hopper, 2 x 4500
#    envs each, walker2d first;
# 5. OTR, one K at a time (10 runs as one program each, about 5-6 minutes on an H200,
#    estimated likewise), started only with OTR_MIN_LEFT seconds (default 330) left. A
#    program's checkpoints cannot leave the machine (about 4 MB per run): one that a lease
#    ends before it finishes is lost, so OTR is cut into pieces that each fit one call
#    (30 runs as one program, about 11 minutes, would fit none), and each finished K is
#    packed and committed. It comes last: steps 2-4 are what the issue's targets need.
#    After OTR's K = 1 and before its K = 5 and 10: IQL on a constant reward at CLUE's
#    mean level (10 runs as one program, as IQL's): CLUE's rewards hardly vary on these data,
#    and this control says whether its row is more than that level.
# The benchmarks are stopped at the time limit too (a stopped one is rerun next time).
# Runs already in results/table3_paper/runs (measured in an earlier lease and committed)
# are copied into RUNS_DIR first, so they are skipped. Every run stops cleanly at a
# checkpoint before the time limit; rerunning the same command continues (finished runs
# are skipped, started ones resume; the checkpoints stay in RUNS_DIR, so the rerun must
# find that folder: within one lease of a machine, not across).
# The small files of every run (config, results, evaluation episodes, logs; not the
# checkpoints or rewards) and the bench figures are packed into $OUT/gpu_results.tgz when
# $OUT names a folder (the device tool's), else left in RUNS_DIR.
#
# Packages: the machine's jax / flax / optax / chex / h5py are used as they are; what is
# missing comes from .site.tgz or .site (scripts/offline_deps.sh makes them) when present.
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
LIMIT=${TIME_LIMIT:-570}
RUNS=${1:-runs/gpu}
# CLUE's mean post-processed reward in the 30 committed paper-budget runs (1.614-1.640)
CONSTANT_FLAG="--constant_config.value=1.62"
left() { echo $(( LIMIT - ($(date +%s) - T0) )); }
mkdir -p "$RUNS"
LOG="$RUNS/gpu_run.log"
exec > >(tee -a "$LOG") 2>&1
echo "== gpu_run.sh $(date -u '+%Y-%m-%d %H:%M:%S') UTC, limit ${LIMIT} s, runs in $RUNS"

if [ -f .site.tgz ] && [ ! -d /tmp/clue_site/.site ]; then
    mkdir -p /tmp/clue_site && tar xzf .site.tgz -C /tmp/clue_site
fi
for site in /tmp/clue_site/.site "$PWD/.site"; do
    [ -d "$site" ] && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
done
export PYTHONUNBUFFERED=1
python3 - <<'EOF' || exit 1
import importlib.metadata as m, jax
print("devices:", jax.devices(), "| cores:", __import__("os").cpu_count())
print("versions:", {p: m.version(p) for p in ("jax", "jaxlib", "flax", "optax", "mujoco",
                                                "gymnasium", "ott-jax", "numpy")})
import clue_jax.experiments  # noqa: F401 -- every module the runs import
from clue_jax.rewards import otr
otr.ott_modules()  # OTR's ott-jax, which the runs import when they reach OTR
EOF

pack() {
    [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] || return 0
    tar czf "$OUT/gpu_results.tgz" --exclude=checkpoint.msgpack --exclude=rewards.npz \
        --exclude='*.partial' --exclude='cvae*.msgpack' --exclude='tb' "$RUNS"
    echo "packed $(du -h "$OUT/gpu_results.tgz" | cut -f1) into $OUT/gpu_results.tgz"
}
trap pack EXIT

echo "== data ($(left) s left)"
start=$(date +%s)
python3 -c "
from clue_jax.experiments import load_dataset
for name in ('gen-pointmaze-umaze-diverse-v0', 'gen-hopper-medium-v0', 'gen-hopper-expert-demos-v0'):
    print(name, load_dataset(name).size, 'transitions')" || exit 1
echo "data ready in $(( $(date +%s) - start )) s"

if [ -d results/table3_paper/runs ]; then  # finished in earlier leases: skipped below
    mkdir -p "$RUNS/table3_paper" && cp -rn results/table3_paper/runs/. "$RUNS/table3_paper/"
    # generated data is deterministic per platform only: say whether this device made the
    # data those runs learned from (their tables name a mix too: MIXED DATA)
    python3 -c "
import pathlib
from clue_jax.experiments import load_dataset, records
from clue_jax.grid import tables
name = 'gen-hopper-medium-v0'
here = load_dataset(name)
rows = [{'task': name, **tables.fingerprints(config.parent)}
        for config in pathlib.Path('results/table3_paper/runs').rglob('config.json')]
mixed = tables.mixed_data(rows + [{'task': name, 'data_rows': here.size,
                                   'data': records.fingerprint(here)}],
                          where='the committed runs\' config.json and this device\'s data')
print(f'this device made {name} with {here.size} transitions: ' + (
    'OTHER DATA than the committed runs; this row will mix datasets\n' + '\n'.join(mixed)
    if mixed else f'the same data as the {len(rows)} committed runs'))
" || true
fi

table() {  # one method's K x seeds of the row as one program, until done or the time limit;
    # $2: more reproduce.py arguments (e.g. --num_experts=5 for one K); $3: flags for the runs
    echo "== Table 3, gen-hopper-medium-v0, paper budget: $1 ${2:-} ${3:-} ($(left) s left)"
    local flags
    flags=$(echo "${3:-} ${TABLE_FLAGS:-}" | xargs)
    # shellcheck disable=SC2086
    python3 reproduce.py --preset=table3 --budget=paper --tasks=gen-hopper-medium-v0 \
        --methods="$1" ${2:-} ${TABLE_ARGS:-} --group=method --out="$RUNS/table3_paper" \
        --time_limit=$(( $(left) - 20 )) ${flags:+-- $flags}
    status=$?
    echo "== $1: reproduce.py exit $status (3: stopped at the time limit; rerun to resume)"
}

table clue-imitation
if [ ! -s "$RUNS/bench_e2e.json" ] && [ "$(left)" -gt 240 ]; then
    echo "== bench_e2e ($(left) s left)"
    # shellcheck disable=SC2086
    timeout $(( $(left) - 30 )) python3 bench/bench_e2e.py ${BENCH_ARGS:---seeds=10 \
        --separate=1 --max_steps=20000 --cvae_steps=10000 --eval_interval=5000 \
        --eval_episodes=10} --out="$RUNS/bench_e2e" --json="$RUNS/bench_e2e.json" \
        || echo "== bench_e2e: exit $? (124: stopped at the time limit; rerun to measure)"
fi
[ "$(left)" -gt 180 ] && table iql
if [ ! -s "$RUNS/eval_backends.txt" ] && [ "$(left)" -gt 240 ]; then
    echo "== the evaluation backends, host vs device ($(left) s left)"
    # shellcheck disable=SC2086
    timeout $(( $(left) - 30 )) python3 bench/bench_eval_backends.py ${EVAL_ARGS:---envs=walker2d,hopper \
        --episodes=4500} > "$RUNS/eval_backends.partial" \
        && mv "$RUNS/eval_backends.partial" "$RUNS/eval_backends.txt"
    cat "$RUNS/eval_backends.partial" "$RUNS/eval_backends.txt" 2>/dev/null
fi
# OTR labels for 4-30 s on a GPU (K = 1-10) before training
[ "$(left)" -gt "${OTR_MIN_LEFT:-330}" ] && table otr-imitation "--num_experts=1"
# IQL on CLUE's mean reward on every row: CLUE's rewards on these data hardly vary (a
# collapsed posterior; results/table4, "CLUE scores as a constant"), so this control says
# whether its row is more than its reward level
[ "$(left)" -gt "${CONSTANT_MIN_LEFT:-330}" ] && table constant "" "$CONSTANT_FLAG"
for k in 5 10; do
    [ "$(left)" -gt "${OTR_MIN_LEFT:-330}" ] && table otr-imitation "--num_experts=$k"
done
flags=$(echo "$CONSTANT_FLAG ${TABLE_FLAGS:-}" | xargs)
# shellcheck disable=SC2086
python3 reproduce.py --preset=table3 --budget=paper --tasks=gen-hopper-medium-v0 \
    --methods=iql,constant,otr-imitation,clue-imitation ${TABLE_ARGS:-} \
    --out="$RUNS/table3_paper" --table_only -- $flags > /dev/null
echo "== done ($(left) s left)"
