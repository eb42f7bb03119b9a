"""Generate the gen-{hopper,halfcheetah,walker2d}-* datasets and describe each one.

Runs `generated.ensure_generated` (a cached, verified file is reused; add
--fresh to time a regeneration into a temporary cache) and prints, per dataset:
rows, episodes, generation seconds and transitions/s, and the mean return of
its episodes, raw and normalized with LOCOMOTION_REFS (D4RL's tables report
the datasets' own normalized returns the same way). Episodes are the rows
between terminals / timeouts; the last, cut one of each env stream counts too.

    PYTHONPATH=. python bench/make_locomotion_datasets.py                # all, 1M rows
    PYTHONPATH=. python bench/make_locomotion_datasets.py --envs=hopper --qualities=medium
"""

import argparse
import tempfile
import time

import numpy as np

from clue_jax.data import d4rl_io
from clue_jax.generation import generated
from clue_jax.data.dataset import trajectory_returns
from clue_jax.envs import locomotion, registry

ALL = locomotion.QUALITIES + ("expert-demos",)


def describe(name: str, path: str) -> dict:
    raw = d4rl_io.load_hdf5(path)
    ends = (np.asarray(raw["terminals"]) | np.asarray(raw["timeouts"])).astype(np.float32)
    returns = trajectory_returns(np.asarray(raw["rewards"]), ends)
    row = {"rows": len(raw["rewards"]), "episodes": len(returns),
           "return": float(returns.mean()), "return_std": float(returns.std())}
    if registry.reference_scores_measured(name):
        row["normalized"] = float(registry.normalized_score(name, returns).mean())
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default=",".join(locomotion.ENVS))
    parser.add_argument("--qualities", default=",".join(ALL))
    parser.add_argument("--size", type=int, default=None, help="rows (default: each spec's)")
    parser.add_argument("--fresh", action="store_true", help="generate into a temporary cache")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="clue_jax_gen_") if args.fresh else None
    print("| dataset | rows | episodes | generation s | transitions/s | mean episode return "
          "| normalized |\n|---|---|---|---|---|---|---|")
    for env in args.envs.split(","):
        for quality in args.qualities.split(","):
            name = locomotion.gen_name(env, quality)
            start = time.perf_counter()
            path = generated.ensure_generated(name, cache_dir=cache, size=args.size)
            seconds = time.perf_counter() - start
            row = describe(name, path)
            norm = f"{row['normalized']:.1f}" if "normalized" in row else "unmeasured"
            print(f"| {name} | {row['rows']} | {row['episodes']} | {seconds:.1f} | "
                  f"{row['rows'] / seconds:.0f} | {row['return']:.1f} +- {row['return_std']:.1f} "
                  f"| {norm} |", flush=True)


if __name__ == "__main__":
    main()
