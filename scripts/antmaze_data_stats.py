"""What the generated AntMaze datasets hold: per dataset, its rows and episodes, the share of
rows with reward 1 (s' within 0.5 of the evaluation goal), the share of episodes that reach
the evaluation goal and the share that reach the goal they were steered to, and how the ants
behave at their goal: the share of rows within 1.0 of it and the torso's mean speed there.
With --flow, instead, how the ants move along the evaluation's path: per cell on the shortest
path from the start cell to the evaluation goal's, the rows within 1.5 of its centre and the
shares moving toward the goal along the path / away from it (torso velocity along the
direction to the next cell > 0.3 / < -0.3), one table per maze.

    python scripts/antmaze_data_stats.py                       # the six gen-antmaze names
    python scripts/antmaze_data_stats.py --stems=umaze,large-play --versions=v0,v1
    python scripts/antmaze_data_stats.py --stems=umaze-diverse --sample=100000 \\
        --versions=v0,v1                                       # the two waypoint rules
    python scripts/antmaze_data_stats.py --flow --stems=umaze,umaze-diverse --versions=v0,v1 \\
        --files=<a file generate() made, e.g. a diagnostic>

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
CELL_NEAR = 1.5  # "at a path cell": the torso within this of the cell's centre
MOVING = 0.3  # "moving toward / away": velocity along the path beyond this


def path_cells(maze: str) -> np.ndarray:
    """(K, 2) the cells of the planner's shortest path from the start cell to the
    evaluation goal's cell, the goal's cell last."""
    table = gen.planner_table(maze)
    goal = tuple(antmaze.MAZES[maze][2])
    cells = [tuple(gen.START_CELL)]
    while cells[-1] != goal:
        cells.append(tuple(table[goal][cells[-1]]))
    return np.asarray(cells, np.int64)


def flow_header(maze: str) -> str:
    xy = antmaze.cell_xy(path_cells(maze)[:-1])
    names = " | ".join(f"({x:g}, {y:g})" for x, y in xy)
    return (f"| dataset ({maze}: rows near each path cell, toward / away) | {names} |\n"
            f"|---|{'---|' * len(xy)}")


def flow_row(label: str, raw: dict, maze: str) -> str:
    """Per path cell: rows within CELL_NEAR of its centre, the shares moving toward the
    next cell / away from it."""
    cells = path_cells(maze)
    centres = antmaze.cell_xy(cells)
    xy = raw["observations"][:, :2]
    velocity = raw["infos/qvel"][:, :2]
    out = []
    for here, there in zip(centres[:-1], centres[1:]):
        near = np.linalg.norm(xy - here, axis=1) < CELL_NEAR
        along = velocity[near] @ ((there - here) / np.linalg.norm(there - here))
        shares = (f"{100 * (along > MOVING).mean():.0f}% / {100 * (along < -MOVING).mean():.0f}%"
                  if near.any() else "-")
        out.append(f"{near.sum() / 1e3:.0f}k, {shares}")
    return f"| {label} | " + " | ".join(out) + " |"


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
    parser.add_argument("--flow", action="store_true",
                        help="the flow along the evaluation's path instead of the summary")
    parser.add_argument("--files", default="",
                        help="with --flow: comma-separated HDF5 files antmaze_datasets."
                             "generate made (their metadata name the maze), after the names")
    args = parser.parse_args()
    stems, versions = args.stems.split(","), args.versions.split(",")
    files = [Path(f) for f in args.files.split(",") if f]
    if files and not args.flow:
        sys.exit("antmaze_data_stats.py: --files is read with --flow only; add --flow")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        sys.exit(f"antmaze_data_stats.py: --files: {', '.join(missing)} not found; pass HDF5 "
                 "files made by clue_jax.generation.antmaze_datasets.generate")
    bad = [s for s in stems if s not in gen.RULES] + [v for v in versions
                                                      if v not in gen.VERSIONS]
    if bad:
        sys.exit(f"antmaze_data_stats.py: unknown {bad}; --stems takes {sorted(gen.RULES)}, "
                 f"--versions {sorted(gen.VERSIONS)}")
    if args.sample % gen.EPISODE_LENGTH:
        sys.exit(f"antmaze_data_stats.py: --sample={args.sample} is not a multiple of the "
                 f"episode length {gen.EPISODE_LENGTH}; pass whole episodes")
    if args.flow:
        return print_flows(stems, versions, files, args.sample)
    print("| dataset | rows | episodes | reward-1 rows | episodes reaching the evaluation goal "
          f"| episodes reaching their own goal | rows within {NEAR} of their own goal "
          "| torso speed there | torso speed elsewhere |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stem in stems:
        for version in versions:
            label, data = dataset(stem, version, args.sample)
            print(row(label, data), flush=True)


def dataset(stem: str, version: str, sample: int):
    """(label, arrays) of a named dataset, or of its first `sample` rows made in memory."""
    name = gen.gen_name(stem, version)
    if sample:
        data, _ = gen.generate(stem, sample, 0, offset_rule=gen.VERSIONS[version])
        return f"{name}, first {sample:,} rows ({gen.VERSIONS[version]})", data
    return name, d4rl_io.load_hdf5(generated.ensure_generated(name))


def print_flows(stems, versions, files, sample: int) -> None:
    """One flow table per maze: the named datasets of `stems`, then `files` of that maze."""
    import h5py
    extra = []
    for path in files:
        with h5py.File(path, "r") as f:
            meta = dict(f["metadata"].attrs) if "metadata" in f else {}
        if "maze" not in meta:
            sys.exit(f"antmaze_data_stats.py: --files: {path} has no metadata maze; pass "
                     "files made by clue_jax.generation.antmaze_datasets.generate")
        extra.append((str(meta["maze"]), str(meta.get("name", path.name)), path))
    mazes = list(dict.fromkeys([gen.RULES[s][0] for s in stems] + [m for m, _, _ in extra]))
    for maze in mazes:
        print(flow_header(maze))
        for stem in (s for s in stems if gen.RULES[s][0] == maze):
            for version in versions:
                print(flow_row(*dataset(stem, version, sample), maze), flush=True)
        for _, name, path in (e for e in extra if e[0] == maze):
            print(flow_row(name, d4rl_io.load_hdf5(str(path)), maze), flush=True)
        print()


if __name__ == "__main__":
    main()
