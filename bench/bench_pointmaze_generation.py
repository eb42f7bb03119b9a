"""Time the generation of the gen-pointmaze datasets and print what they hold.

    PYTHONPATH=. taskset -c 0 python bench/bench_pointmaze_generation.py --size 1000000

For each dataset: seconds, transitions/s, seconds per 1M, goals reached per
1000-step episode (goal redraws), share of episodes that touch the evaluation
goal, and the share of reward-1 rows.
"""

import argparse
import time

import numpy as np

from clue_jax.generation import pointmaze_datasets
from clue_jax.envs import pointmaze


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mazes", nargs="*", default=list(pointmaze.MAZES))
    args = parser.parse_args()
    length = pointmaze_datasets.EPISODE_LENGTH
    for maze in args.mazes:
        for kind in pointmaze.GEN_KINDS:
            start = time.perf_counter()
            data, _ = pointmaze_datasets.generate(maze, kind, args.size, args.seed)
            seconds = time.perf_counter() - start
            episodes = args.size // length
            goals = data["infos/goal"][:episodes * length].reshape(episodes, length, 2)
            arrivals = np.any(goals[:, 1:] != goals[:, :-1], axis=2).sum(axis=1)
            touched = data["rewards"][:episodes * length].reshape(episodes, length).max(axis=1)
            print(f"{pointmaze.gen_name(maze, kind):34s} {seconds:6.2f} s  "
                  f"{args.size / seconds:9.0f} transitions/s  "
                  f"{seconds * 1e6 / args.size:5.2f} s per 1M  "
                  f"goals reached/episode {arrivals.mean():5.2f}  "
                  f"episodes touching the eval goal {touched.mean():.2f}  "
                  f"reward-1 rows {data['rewards'].mean():.4f}")


if __name__ == "__main__":
    main()
