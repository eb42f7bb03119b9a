"""Seed-updates/s of IQL for S seeds trained as one vmapped program vs S separate programs.

    python bench/bench_seeds.py                      # 1, 4 and 10 seeds on the default device
    taskset -c 0 python bench/bench_seeds.py --seeds=1,4 --steps=2000

"vmapped": the S agents stacked and updated by one compiled program, the dataset
held once with each seed's rewards (`training.share_data`), as `--seeds` runs do.
"separate": the S agents updated one after another by the single-seed program,
as S processes would (without their start-up cost). Both use the fused update
(`iql.jit_update_n`, chunks of --chunk steps), hopper shapes (11/3), batch 256,
hidden (256, 256). Seed-updates/s = S * updates / seconds; the device is named
in the output. Compare figures only within one run of this script.
"""

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import training  # noqa: E402
from clue_jax.agents import iql  # noqa: E402
from clue_jax.data.dataset import make_dataset, to_device  # noqa: E402

OBS, ACT, N = 11, 3, 100_000


def datasets(num_seeds):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(N + 1, OBS)).astype(np.float32)
    base = make_dataset(obs[:-1], rng.uniform(-1, 1, (N, ACT)), rng.normal(size=N), np.zeros(N),
                        obs[1:])
    return [to_device(base.with_rewards(rng.normal(size=N).astype(np.float32)))
            for _ in range(num_seeds)]


def agent(seed):
    return iql.create(seed, jnp.zeros((1, OBS)), jnp.zeros((1, ACT)), expectile=0.7,
                      temperature=3.0, max_steps=10**6)


def bench(num_seeds, steps, chunk, repeats):
    datas = datasets(num_seeds)
    keys = [jax.random.PRNGKey(s) for s in range(num_seeds)]
    # vmapped: the update train_offline_seeds compiles
    data, axes = training.share_data(datas)
    treedef = jax.tree_util.tree_flatten(axes, is_leaf=lambda x: x is None)
    update = training._vmapped_update(iql.jit_update_n, chunk, 256,
                                      (treedef[1], tuple(treedef[0])))
    stacked, key = training.stack_trees([agent(s) for s in range(num_seeds)]), jnp.stack(keys)
    stacked, key, _ = update(stacked, data, key)  # compile
    jax.block_until_ready(stacked)
    vm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps // chunk):
            stacked, key, _ = update(stacked, data, key)
        jax.block_until_ready(stacked)
        vm.append(num_seeds * steps / (time.perf_counter() - t0))
    # separate: one program per seed, run one after another
    agents = [agent(s) for s in range(num_seeds)]
    for i in range(num_seeds):  # compile
        agents[i], keys[i], _ = iql.jit_update_n(agents[i], datas[i], keys[i], num_steps=chunk,
                                                 batch_size=256)
    jax.block_until_ready(agents)
    sep = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(num_seeds):
            for _ in range(steps // chunk):
                agents[i], keys[i], _ = iql.jit_update_n(agents[i], datas[i], keys[i],
                                                         num_steps=chunk, batch_size=256)
        jax.block_until_ready(agents)
        sep.append(num_seeds * steps / (time.perf_counter() - t0))
    return float(np.median(vm)), float(np.median(sep))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,4,10", help="comma-separated numbers of seeds")
    parser.add_argument("--steps", type=int, default=2000, help="updates per seed per repeat")
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform}: {device.device_kind} "
          f"(x{jax.device_count()}); IQL, hopper shapes (11/3), batch 256, hidden (256, 256)")
    for num_seeds in (int(s) for s in args.seeds.split(",")):
        vm, sep = bench(num_seeds, args.steps, args.chunk, args.repeats)
        print(f"{num_seeds:3d} seeds: vmapped {vm:8.0f} seed-updates/s | separate {sep:8.0f} "
              f"seed-updates/s | vmapped / separate {vm / sep:.2f}x", flush=True)


if __name__ == "__main__":
    main()
