"""What the generated AntMaze datasets hold: per dataset, its rows and episodes, the share of
rows with reward 1 (s' within 0.5 of the evaluation goal), the share of episodes that reach
the evaluation goal and the share that reach the goal they were steered to, and how the ants
behave at their goal: the share of rows within 1.0 of it and the torso's mean speed there.

    python scripts/antmaze_data_stats.py                       # the six gen-antmaze names
    python scripts/antmaze_data_stats.py --stems=umaze,large-play --versions=v0,v1
    python scripts/antmaze_data_stats.py --stems=umaze-diverse --sample=100000 \\
        --versions=v0,v1                                       # the two waypoint rules

Without --sample it reads the named datasets, gen-antmaze-<stem>-<version> for each of
--versions (generating one that is not cached yet, as a run would). With --sample=N it
generates the first N rows of each of them in memory (seed 0, nothing cached): v0 clips the
waypoint's offset at GOAL_MAX, v1 scales it to GOAL_MAX as D4RL scaled it to 10.
Prints a markdown table.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.data import d4rl_io  # noqa: E402
from clue_jax.envs import antmaze  # noqa: E402
from clue_jax.generation import antmaze_datasets as gen  # noqa: E402
from clue_jax.generation import generated  # noqa: E402

NEAR = 1.0  # "at its goal": the torso within this of the episode's own goal


def row(label: str, raw: dict) -> str:
    """One table row of a dataset's arrays (whole EPISODE_LENGTH-row episodes)."""
    length = gen.EPISODE_LENGTH
    rewards = raw["rewards"].reshape(-1, length)
    xy = raw["next_observations"][:, :2].reshape(-1, length, 2)
    goals = raw["infos/goal"].reshape(-1, length, 2)
    distance = antmaze.goal_distance(xy, goals)
    own = (distance <= antmaze.GOAL_RADIUS).any(axis=1)
    near = distance <= NEAR
    speed = np.linalg.norm(raw["infos/qvel"][:, :2], axis=1).reshape(near.shape)
    at_goal = f"{speed[near].mean():.2f}" if near.any() else "-"
    return (f"| {label} | {rewards.size:,} | {len(rewards)} | {100 * rewards.mean():.2f}% | "
            f"{100 * (rewards.max(axis=1) > 0).mean():.1f}% | {100 * own.mean():.1f}% | "
            f"{100 * near.mean():.1f}% | {at_goal} | {speed[~near].mean():.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stems", default=",".join(gen.RULES))
    parser.add_argument("--versions", default="v0",
                        help=f"the named datasets' versions, of {sorted(gen.VERSIONS)}")
    parser.add_argument("--sample", type=int, default=0,
                        help="generate the first this many rows of each dataset in memory "
                             "instead of reading it (a multiple of the episode length)")
    args = parser.parse_args()
    stems, versions = args.stems.split(","), args.versions.split(",")
    bad = [s for s in stems if s not in gen.RULES] + [v for v in versions
                                                      if v not in gen.VERSIONS]
    if bad:
        sys.exit(f"antmaze_data_stats.py: unknown {bad}; --stems takes {sorted(gen.RULES)}, "
                 f"--versions {sorted(gen.VERSIONS)}")
    if args.sample % gen.EPISODE_LENGTH:
        sys.exit(f"antmaze_data_stats.py: --sample={args.sample} is not a multiple of the "
                 f"episode length {gen.EPISODE_LENGTH}; pass whole episodes")
    print("| dataset | rows | episodes | reward-1 rows | episodes reaching the evaluation goal "
          f"| episodes reaching their own goal | rows within {NEAR} of their own goal "
          "| torso speed there | torso speed elsewhere |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stem in stems:
        for version in versions:
            name = gen.gen_name(stem, version)
            if args.sample:
                data, _ = gen.generate(stem, args.sample, 0, offset_rule=gen.VERSIONS[version])
                label = f"{name}, first {args.sample:,} rows ({gen.VERSIONS[version]})"
            else:
                data = d4rl_io.load_hdf5(generated.ensure_generated(name))
                label = name
            print(row(label, data), flush=True)


if __name__ == "__main__":
    main()
