"""Measure the reference returns of the gen-{hopper,halfcheetah,walker2d}-* datasets.

For each env: uniform random actions (LOCOMOTION_REFS' 'random', score 0), the
shipped expert actor's deterministic actions (LOCOMOTION_REFS' 'expert', score
100), the medium actor's, and both actors sampled stochastically as in the
datasets; mean +- std over --episodes episodes (env i reset with seed + i).
Prints the LOCOMOTION_REFS lines for clue_jax/envs/locomotion.py.

    PYTHONPATH=. python bench/measure_locomotion_refs.py --episodes 100
"""

import argparse
import time

from clue_jax.generation import locomotion_refs
from clue_jax.envs import locomotion


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--envs", default=",".join(locomotion.ENVS))
    args = parser.parse_args()
    rows = []
    for env in args.envs.split(","):
        start = time.perf_counter()
        refs = locomotion_refs.measure_refs(env, args.episodes, args.seed)
        print(f"{env} ({args.episodes} episodes, {time.perf_counter() - start:.0f} s):")
        for key, (mean, std) in refs.items():
            print(f"  {key:18s} {mean:10.1f} +- {std:.1f}")
        rows.append(locomotion_refs.refs_row(env, refs))
    print("LOCOMOTION_REFS lines:\n    " + "\n    ".join(rows))


if __name__ == "__main__":
    main()
