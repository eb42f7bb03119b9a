"""Print OTR labelling time: `--episodes` offline episodes of `--length` steps against K experts.

    PYTHONPATH=. taskset -c 0 python bench/bench_otr.py                # 1M transitions, K = 1 and 10
    PYTHONPATH=. python bench/bench_otr.py --episodes=100 --ks=1,10    # a tenth, quicker

Synthetic random walks (no files needed) with walker2d's 17-dim observations and
the locomotion config (T = 1000, 100 Sinkhorn iterations). Every episode is as
long as T, so the time is the cost of the full (episode x expert) transport
problems: about episodes x K x length x expert_length x 100 iterations. The
first call (compilation included) is timed apart from the steady rate, and the
device JAX ran on is named.
"""

import argparse
import time

import jax
import numpy as np

from clue_jax.data.dataset import make_dataset
from clue_jax.rewards import otr
from configs import otr_config


def walks(episodes: int, length: int, obs_dim: int, seed: int):
    """`episodes` random walks of `length` steps, each a trajectory of its own."""
    rng = np.random.default_rng(seed)
    path = np.cumsum(rng.normal(scale=0.1, size=(episodes, length + 1, obs_dim)), axis=1) + 1.0
    obs = path[:, :-1].reshape(-1, obs_dim).astype(np.float32)
    next_obs = path[:, 1:].reshape(-1, obs_dim).astype(np.float32)
    terminals = np.zeros(len(obs))
    terminals[length - 1::length] = 1  # one episode per `length` rows
    data = make_dataset(obs, np.zeros((len(obs), 1)), np.zeros(len(obs)), terminals, next_obs,
                        clip_actions=False)
    assert int(data.dones_float.sum()) == episodes, "each walk must be one trajectory"
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--obs-dim", type=int, default=17)
    parser.add_argument("--ks", default="1,10")
    args = parser.parse_args()
    config = otr_config.get_config("locomotion")
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}); "
          f"{args.episodes} episodes x {args.length} steps = {args.episodes * args.length} "
          f"transitions, obs dim {args.obs_dim}")
    for k in [int(v) for v in args.ks.split(",")]:
        expert = walks(k, args.length, args.obs_dim, seed=1)
        warm = walks(1, args.length, args.obs_dim, seed=2)
        start = time.perf_counter()
        otr.otr_rewards(warm, expert, config)  # compiles for this shape
        first = time.perf_counter() - start
        data = walks(args.episodes, args.length, args.obs_dim, seed=0)
        start = time.perf_counter()
        rewards, _ = otr.otr_rewards(data, expert, config)
        seconds = time.perf_counter() - start
        print(f"K={k:2d}: {seconds:.1f} s for {data.size} transitions "
              f"({data.size / seconds:.0f} transitions/s, {seconds / args.episodes * 1e3:.1f} ms "
              f"per episode); first call incl. compile {first:.1f} s; reward mean "
              f"{rewards.mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
