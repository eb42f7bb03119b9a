#!/usr/bin/env bash
# Three short runs (CLUE sparse and IQL on the embedded maze, CLUE imitation on
# gen-hopper-medium-v0) into OUT, then the SHA-256 of every checkpoint, CVAE and
# reward array. Run it in two checkouts and compare the lists: equal hashes mean
# the code between them changed no numbers. Pin to one core for bit-identical
# XLA results:  taskset -c 0 bash scripts/check_identical_runs.sh /tmp/after
set -euo pipefail
OUT=${1:?usage: check_identical_runs.sh OUT}
cd "$(dirname "$0")/.."
python train_clue.py --max_steps=2000 --cvae_steps=1000 --eval_interval=1000 --eval_episodes=2 \
    --save_dir="$OUT" --notqdm > "$OUT.clue.log" 2>&1
python train_iql.py --max_steps=2000 --eval_interval=1000 --eval_episodes=2 \
    --save_dir="$OUT" --notqdm > "$OUT.iql.log" 2>&1
python train_clue.py --setting=imitation --env_name=gen-hopper-medium-v0 --max_steps=1000 \
    --cvae_steps=500 --eval_interval=1000 --eval_episodes=1 --save_dir="$OUT" --notqdm \
    > "$OUT.imitation.log" 2>&1
cd "$OUT"
for f in $(find . -name "*.msgpack" | sort); do
    echo "$(sha256sum "$f" | cut -c1-64)  ${f#./}"
done
for f in $(find . -name rewards.npz | sort); do
    python -c "import hashlib, numpy as np, sys; print(hashlib.sha256(np.load(sys.argv[1])['rewards'].tobytes()).hexdigest(), ' ', sys.argv[1][2:] + ':rewards')" "$f"
done
