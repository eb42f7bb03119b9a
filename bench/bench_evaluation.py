"""Env-steps per second of `evaluate` with a cheap numpy policy (prints figures only).

Usage: PYTHONPATH=. python bench/bench_evaluation.py [--envs 10] [--steps 200]
       [--policy sine|zero] [names ...]
"""

import argparse
import time

import numpy as np

from clue_jax import evaluation
from clue_jax.envs.registry import get_spec


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", default=["hopper-medium-v2", "antmaze-umaze-v2"])
    parser.add_argument("--envs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--policy", choices=("sine", "zero"), default="sine",
                        help="zero keeps hopper/walker standing for long episodes")
    args = parser.parse_args()
    for name in args.names:
        spec = get_spec(name)
        phase = np.linspace(0, np.pi, spec.act_dim, dtype=np.float32)
        counter = {"calls": 0}

        def policy(obs):  # a smooth gait-like open-loop signal, one call per step
            counter["calls"] += 1
            if args.policy == "zero":
                return np.zeros((len(obs), spec.act_dim), np.float32)
            return np.broadcast_to(np.sin(0.5 * counter["calls"] + phase), (len(obs), spec.act_dim))

        start = time.perf_counter()
        out = evaluation.evaluate(policy, name, args.envs, seed=0, max_steps=args.steps)
        elapsed = time.perf_counter() - start
        env_steps = out["length"] * args.envs
        print(f"{name}: {args.envs} envs, {env_steps:.0f} env-steps in {elapsed:.2f} s "
              f"-> {env_steps / elapsed:,.0f} env-steps/s (incl. env construction); "
              f"return {out['return']:.2f}")


if __name__ == "__main__":
    main()
