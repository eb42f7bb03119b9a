"""What the generated AntMaze datasets hold: per dataset, its rows and episodes, the share of
rows with reward 1 (s' within 0.5 of the evaluation goal), the share of episodes that reach
the evaluation goal, and the share that reach the goal they were steered to.

    python scripts/antmaze_data_stats.py                       # the six gen-antmaze names
    python scripts/antmaze_data_stats.py --stems=umaze,large-play

Generates a dataset that is not cached yet (as a run would). Prints a markdown table.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.data import d4rl_io  # noqa: E402
from clue_jax.envs import antmaze  # noqa: E402
from clue_jax.generation import antmaze_datasets as gen  # noqa: E402
from clue_jax.generation import generated  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stems", default=",".join(gen.RULES))
    args = parser.parse_args()
    print("| dataset | rows | episodes | reward-1 rows | episodes reaching the evaluation goal "
          "| episodes reaching their own goal |")
    print("|---|---|---|---|---|---|")
    for stem in args.stems.split(","):
        name = gen.gen_name(stem)
        raw = d4rl_io.load_hdf5(generated.ensure_generated(name))
        length = gen.EPISODE_LENGTH
        rewards = raw["rewards"].reshape(-1, length)
        xy = raw["next_observations"][:, :2].reshape(-1, length, 2)
        goals = raw["infos/goal"].reshape(-1, length, 2)
        own = (antmaze.goal_distance(xy, goals) <= antmaze.GOAL_RADIUS).any(axis=1)
        print(f"| {name} | {rewards.size:,} | {len(rewards)} | {100 * rewards.mean():.2f}% | "
              f"{100 * (rewards.max(axis=1) > 0).mean():.1f}% | {100 * own.mean():.1f}% |")


if __name__ == "__main__":
    main()
