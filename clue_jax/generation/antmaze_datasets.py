"""Offline AntMaze datasets gen-antmaze-{umaze,umaze-diverse,medium-play,medium-diverse,
large-play,large-diverse}-{v0,v1}, made as D4RL made its AntMaze data (v1 with D4RL's
waypoint scaling, v0 with the clipping below; `VERSIONS`).

D4RL's generator (scripts/generation/generate_ant_maze_datasets.py with locomotion/maze_env.py)
steers a goal-reaching ant policy through the maze by waypoints. Kept here:
- the antmaze ant and walls (`envs.antmaze`, the model the antmaze-*-v2 names evaluate in),
  D4RL's ant reset (qpos0 + U(-0.1, 0.1), qvel N(0, 0.1^2));
- waypoints: the next cell on a shortest path (breadth-first search over the free cells,
  `envs.maze_planner.next_cell_table`) from the torso's cell to the goal's cell, at that
  cell's centre plus U(0, 1) per axis drawn anew every step (D4RL's `add_random_noise`,
  U(0, scaling / 4)); the goal itself once that next cell is the goal's; the torso's cell
  read as D4RL's `_xy_to_rowcol` reads it, int(1 + xy / 4) (`cell_of`: a cell's reading
  spans its centre to the next cell's, so the ant turns only past a cell's centre line),
  from a wall cell too when that reading lands in one (the free neighbour nearest the goal,
  as D4RL's BFS answers);
- goals: a cell's centre + U(0, 1) + U(0, 0.5) per axis, clipped at 0 (D4RL's
  `goal_sampler`; the evaluation env draws its goal the same way); one goal per episode,
  kept after the ant arrives (it lingers there until the episode ends);
- actions: the policy's stochastic sample plus N(0, 0.2^2) noise, clipped to [-1, 1]
  (D4RL's `--noisy`); 1000-step episodes, `timeouts` on each episode's last row;
- the D4RL layout: observations = qpos (15) + qvel (14), infos/goal (the episode's goal),
  infos/qpos, infos/qvel; rewards and terminals relabelled afterwards: 1 where the xy of s'
  lies within 0.5 of the evaluation goal (`eval_goal`), else 0. IQL's r - 1 is applied at
  training time (the antmaze domain), not stored.
The rules per dataset (`RULES`):
- umaze: start at the start cell, goal in the evaluation goal's cell (D4RL's U_MAZE);
- play: start at the start cell, goal among the hand-picked cells of D4RL's dataset maps
  (BIG_MAZE, HARDEST_MAZE: their 'g' cells, `PLAY_GOALS`);
- diverse: start in a uniformly drawn free cell other than the goal's, its centre +
  U(0, 1) per axis (D4RL's `--multi_start` reset location), goal in a uniformly drawn free
  cell, the start cell included (D4RL's `goal_sampler` where a map has no 'g' cell). This
  one is our reading of D4RL's "random goals": every map in D4RL's maze_env.py has 'g'
  cells, from which alone its sampler draws, and its released script parses `--multigoal`
  (in the diverse files' names) without using it, so how those files drew their goals is
  not in D4RL's released code.
Where D4RL's script is silent or differs, ours (said here, fields of `generate`):
- the policy is this project's goal-reaching ant (`envs.antgoal`: observation without xy,
  the waypoint relative to the torso, whose length is clipped to `antgoal.GOAL_MAX`, the
  farthest goal it was trained on: `offset_rule="clip"`, the v0 names). D4RL scaled every
  offset to length 10, its training disk's radius, so its ant never sees a target closer
  than that and keeps moving once it arrives; `offset_rule="scale"` (the v1 names) does the
  same with GOAL_MAX (compared by scripts/antmaze_data_stats.py --versions=v0,v1);
- the evaluation goal used for the rewards: the evaluation cell's centre + (0.75, 0.75),
  the middle of the evaluation env's goal draws; D4RL relabelled with one such draw.

The ants are simulated side by side (`envs.batched.BatchStepper`: MuJoCo on host threads,
the same steps as each env's own `step`), one policy call per step for all of them.
"""

import functools
from typing import Callable, Dict, Tuple

import mujoco
import numpy as np

from clue_jax import interrupts
from clue_jax.envs import antgoal, antmaze, maze_planner
from clue_jax.generation import locomotion_datasets

GENERATOR_VERSION = "antmaze-v0.2"
EPISODE_LENGTH = 1000
ACTION_NOISE = 0.2
WAYPOINT_NOISE = 0.25 * antmaze.MAZE_SIZE_SCALING  # U(0, this) per axis
START_NOISE = 0.25 * antmaze.MAZE_SIZE_SCALING  # D4RL: U(0, 0.5) * 0.5 * scaling
EVAL_GOAL_OFFSET = 0.75  # the middle of the evaluation goal's U(0, 1) + U(0, 0.5)
NUM_ENVS = 100  # ants simulated side by side
OFFSET_RULES = ("clip", "scale")  # how the policy sees its waypoint (`policy_observations`)
# The diverse rule's goal cells: every free cell (the named datasets), or every free cell but
# the start cell (a diagnostic: no ant is sent to wait where the evaluation starts).
DIVERSE_GOALS = ("free", "free-but-start")
# A name's version -> its offset rule: v0 the first datasets (every result recorded on them),
# v1 D4RL's scaling.
VERSIONS = {"v0": "clip", "v1": "scale"}
RULE_VERSIONS = {rule: version for version, rule in VERSIONS.items()}
POLICY_ENV = "antgoal"  # <policy dir>/antgoal/policy.msgpack
START_CELL = (1, 1)

# dataset stem -> (maze, rule)
RULES = {"umaze": ("umaze", "umaze"), "umaze-diverse": ("umaze", "diverse"),
         "medium-play": ("medium", "play"), "medium-diverse": ("medium", "diverse"),
         "large-play": ("large", "play"), "large-diverse": ("large", "diverse")}
# D4RL's dataset-generation maps' 'g' cells (row, col)
PLAY_GOALS = {"medium": ((2, 6), (5, 1), (6, 5)),
              "large": ((1, 6), (3, 5), (3, 10), (5, 2), (7, 4), (7, 6), (7, 9))}

Arrays = Dict[str, np.ndarray]


def gen_name(stem: str, version: str = "v0") -> str:
    """The dataset name of `stem` made with VERSIONS[version]'s waypoint offset rule."""
    if version not in VERSIONS:
        raise ValueError(f"version: got {version!r}, expected one of {sorted(VERSIONS)}.")
    return f"gen-antmaze-{stem}-{version}"


def policy_path():
    return locomotion_datasets.policy_dir() / POLICY_ENV / "policy.msgpack"


MAKE_POLICY = ("  python train_sac.py --env_name=gen-antgoal-v0 --seed=0 --max_steps=1000000 "
               "--save_dir=runs\n  then copy the snapshot that reaches most goals "
               "(python bench/bench_antmaze_policy.py --run_dir=runs/sac/gen-antgoal-v0/seed_0) "
               "to <policy dir>/antgoal/policy.msgpack")


def require_policy(dataset: str) -> None:
    """PolicyNotFoundError naming how to make the goal-reaching ant's policy, when missing."""
    path = policy_path()
    if not path.is_file():
        raise locomotion_datasets.PolicyNotFoundError(
            f"{dataset} needs the goal-reaching ant's policy {path}, which does not exist "
            f"(policy dir: $CLUE_JAX_POLICY_DIR or clue_jax/policies). Make it with:\n"
            f"{MAKE_POLICY}")


def load_policy(dataset: str):
    """The goal-reaching ant's actor, or PolicyNotFoundError naming how to make it."""
    from clue_jax.agents import sac_actor  # lazy: jax
    require_policy(dataset)
    return sac_actor.load_actor(policy_path())


NAMES = {gen_name(stem, version): (stem, rule) for stem in RULES
         for version, rule in VERSIONS.items()}


def generators() -> Dict[str, Callable[[int, int], Tuple[Arrays, dict]]]:
    """name -> generate(size, seed) for every gen-antmaze dataset."""
    return {name: functools.partial(generate, stem, offset_rule=rule)
            for name, (stem, rule) in NAMES.items()}


FINGERPRINTS = {name: functools.partial(locomotion_datasets.fingerprint_files,
                                        lambda: [policy_path()])
                for name in NAMES}
REQUIRES = {name: functools.partial(require_policy, name) for name in NAMES}


def eval_goal(maze: str) -> np.ndarray:
    """The goal the rewards are relabelled with (D4RL xy)."""
    return antmaze.cell_to_d4rl_xy(*antmaze.MAZES[maze][2]) + EVAL_GOAL_OFFSET


def goal_cells(maze: str, rule: str, diverse_goals: str = "free") -> np.ndarray:
    """(K, 2) int64 cells an episode's goal is drawn from (`diverse_goals`: one of
    DIVERSE_GOALS, for the diverse rule)."""
    if diverse_goals not in DIVERSE_GOALS:
        raise ValueError(f"diverse_goals: got {diverse_goals!r}, expected one of "
                         f"{DIVERSE_GOALS}.")
    if rule != "diverse" and diverse_goals != "free":
        raise ValueError(f"diverse_goals={diverse_goals!r} applies to the diverse datasets "
                         f"only (rule {rule!r}).")
    if rule == "umaze":
        return np.asarray([antmaze.MAZES[maze][2]], np.int64)
    if rule == "play":
        return np.asarray(PLAY_GOALS[maze], np.int64)
    if rule == "diverse":
        free = maze_planner.free_cells(antmaze.maze_grid(maze))
        if diverse_goals == "free-but-start":
            free = free[np.any(free != np.asarray(START_CELL), axis=1)]
        return free
    raise ValueError(f"rule: got {rule!r}, expected umaze, play or diverse.")


def start_cells(maze: str, rule: str) -> np.ndarray:
    """(K, 2) int64 cells an episode starts in (the start cell, or every free cell)."""
    if rule == "diverse":
        return maze_planner.free_cells(antmaze.maze_grid(maze))
    goal_cells(maze, rule)  # validates the rule
    return np.asarray([START_CELL], np.int64)


def cell_of(xy: np.ndarray) -> np.ndarray:
    """(..., 2) D4RL xy -> (..., 2) int64 (row, col) as D4RL's planner reads a position
    (maze_env._xy_to_rowcol: int(1 + max(v, 1e-4) / scaling)): a cell's reading spans
    [centre, centre + scaling) per axis, so an ant counts as in the next cell only once past
    its centre line, and turns there."""
    xy = np.maximum(np.asarray(xy, np.float64), 1e-4)
    cells = np.floor(xy[..., ::-1] / antmaze.MAZE_SIZE_SCALING).astype(np.int64)
    return cells + np.asarray(START_CELL, np.int64)


def planner_table(maze: str) -> np.ndarray:
    """The waypoint planner's next-cell table of `maze` (`maze_planner.next_cell_table`,
    answering from wall cells too: the truncating cell reading puts a torso hugging a wall's
    far side in the wall's cell, where D4RL's BFS still finds the way)."""
    return maze_planner.next_cell_table(antmaze.maze_grid(maze), from_walls=True)


def waypoints(table: np.ndarray, xy: np.ndarray, goals: np.ndarray, goal_cells_: np.ndarray,
              rng: np.random.Generator, noise: float = WAYPOINT_NOISE) -> np.ndarray:
    """(B, 2) where each ant heads now, as D4RL's navigation policy steers: the next cell on
    a shortest path from the cell it reads (`cell_of`), its centre + U(0, noise) per axis, or
    the goal itself once that next cell is the goal's (from the goal's cell or a neighbour)."""
    height, width = table.shape[:2]
    cells = cell_of(xy)
    cells[:, 0] = np.clip(cells[:, 0], 0, height - 1)
    cells[:, 1] = np.clip(cells[:, 1], 0, width - 1)
    nxt = table[goal_cells_[:, 0], goal_cells_[:, 1], cells[:, 0], cells[:, 1]]
    nxt = np.where(nxt < 0, cells, nxt)
    out = antmaze.cell_xy(nxt) + rng.uniform(0.0, noise, xy.shape)
    at_goal = np.all(nxt == goal_cells_, axis=1, keepdims=True)
    return np.where(at_goal, goals, out)


def policy_observations(qpos: np.ndarray, qvel: np.ndarray, targets: np.ndarray,
                        offset_rule: str = "clip") -> np.ndarray:
    """The goal-reaching ant's observations: the target's offset clipped to GOAL_MAX long
    ("clip"), or scaled to exactly GOAL_MAX long as D4RL scaled it to 10 ("scale")."""
    offset = targets - qpos[:, :2]
    factor = antgoal.GOAL_MAX / np.maximum(np.linalg.norm(offset, axis=1, keepdims=True), 1e-9)
    if offset_rule == "clip":
        factor = np.minimum(1.0, factor)
    elif offset_rule != "scale":
        raise ValueError(f"offset_rule: got {offset_rule!r}, expected one of {OFFSET_RULES}.")
    return antgoal.observation(qpos, qvel, qpos[:, :2] + offset * factor)


def _episodes(stepper, policy, rng: np.random.Generator, n: int, maze: str, rule: str,
              length: int, action_noise: float, offset_rule: str,
              diverse_goals: str = "free") -> Arrays:
    """n episodes of `length` steps side by side (the first n of the stepper's envs)."""
    table = planner_table(maze)
    rows = np.arange(n)
    g_cells = maze_planner.draw_cells(rng, goal_cells(maze, rule, diverse_goals),
                                      np.full((n, 2), -1))
    starts = maze_planner.draw_cells(rng, start_cells(maze, rule), g_cells)
    goals = antmaze.draw_goals(rng, g_cells)
    for i in range(n):
        env = stepper.envs[i].unwrapped
        stepper.reset(i, seed=int(rng.integers(2 ** 31)))
        if rule == "diverse":  # D4RL's multi-start: the torso's xy moved to the start cell
            env.data.qpos[:2] = antmaze.cell_xy(starts[i]) + rng.uniform(0.0, START_NOISE, 2)
            env.data.qpos[:2] = np.maximum(env.data.qpos[:2], 0.0)
        mujoco.mj_forward(env.model, env.data)
        stepper.refresh(i)
    out = {key: np.empty((n, length, dim), np.float32)
           for key, dim in (("observations", 29), ("actions", 8), ("next_observations", 29),
                            ("infos/goal", 2), ("infos/qpos", 15), ("infos/qvel", 14))}
    qpos, qvel = stepper.state(rows)
    for t in range(length):
        interrupts.check()
        targets = waypoints(table, qpos[:, :2], goals, g_cells, rng)
        actions, _ = policy(policy_observations(qpos, qvel, targets, offset_rule),
                            rng.standard_normal((n, antmaze.ACT_DIM)))
        actions = np.clip(actions + action_noise * rng.standard_normal(actions.shape), -1, 1)
        out["observations"][:, t] = antmaze.observation(qpos, qvel)
        out["infos/qpos"][:, t], out["infos/qvel"][:, t] = qpos[:, :15], qvel[:, :14]
        out["actions"][:, t] = actions
        out["infos/goal"][:, t] = goals
        stepper.step(actions.astype(np.float32), rows)
        qpos, qvel = stepper.state(rows)
        out["next_observations"][:, t] = antmaze.observation(qpos, qvel)
    return out


def ant_env(maze: str, max_steps: int):
    """The antmaze-*-v2 env of `maze` under a TimeLimit (the layout BatchStepper batches)."""
    import gymnasium
    return gymnasium.wrappers.TimeLimit(antmaze.D4RLAntMazeEnv(maze), max_episode_steps=max_steps)


def generate(stem: str, size: int, seed: int, *, actor=None, num_envs: int = NUM_ENVS,
             episode_length: int = EPISODE_LENGTH, action_noise: float = ACTION_NOISE,
             offset_rule: str = "clip", diverse_goals: str = "free") -> Tuple[Arrays, dict]:
    """Dataset gen-antmaze-{stem}-v0 ("clip") or -v1 ("scale") of `size` transitions (see
    the module docstring).

    Deterministic in `seed` on one platform (one np.random.default_rng: starts, goals,
    waypoint noise, the env resets and the policy's noise). `actor`: the goal-reaching
    ant's actor (default: the shipped policy, `load_policy`). `offset_rule`: how the actor
    sees its waypoint, one of OFFSET_RULES (`policy_observations`; the named datasets use
    "clip"). `diverse_goals`: the diverse datasets' goal cells, one of DIVERSE_GOALS (the
    named datasets use "free"; "free-but-start" makes a diagnostic dataset, not one of the
    names).

    Returns:
        (data, metadata): N = size rows; observations, next_observations (N, 29) float32;
        actions (N, 8) float32 in [-1, 1]; rewards (N,) float32; terminals, timeouts (N,)
        bool; infos/goal (N, 2), infos/qpos (N, 15), infos/qvel (N, 14) float32.
    """
    from clue_jax.agents import sac_actor
    from clue_jax.envs import batched
    if stem not in RULES:
        raise ValueError(f"stem: got {stem!r}, expected one of {sorted(RULES)}.")
    if size < 1:
        raise ValueError(f"size: got {size}, expected a positive number of transitions.")
    if offset_rule not in OFFSET_RULES:
        raise ValueError(f"offset_rule: got {offset_rule!r}, expected one of {OFFSET_RULES}.")
    maze, rule = RULES[stem]
    goal_cells(maze, rule, diverse_goals)  # validates the choice before any work
    name = gen_name(stem, RULE_VERSIONS[offset_rule])
    if diverse_goals != "free":  # not the named dataset: its file says what it is
        name = f"{name}, goals {diverse_goals} (diagnostic)"
    actor = actor if actor is not None else load_policy(name)
    policy = sac_actor.batched_policy(actor)
    rng = np.random.default_rng(seed)
    n_episodes = -(-size // episode_length)
    width = min(num_envs, n_episodes)
    stepper = batched.BatchStepper([ant_env(maze, episode_length) for _ in range(width)])
    chunks = []
    try:
        for first in range(0, n_episodes, width):
            n = min(width, n_episodes - first)
            part = _episodes(stepper, policy, rng, n, maze, rule, episode_length, action_noise,
                             offset_rule, diverse_goals)
            chunks.append({k: v.reshape(n * episode_length, -1) for k, v in part.items()})
    finally:
        stepper.close()
    data = {k: np.concatenate([c[k] for c in chunks])[:size] for k in chunks[0]}
    timeouts = np.zeros(size, dtype=bool)
    timeouts[episode_length - 1::episode_length] = True
    timeouts[-1] = True
    goal = eval_goal(maze)
    hit = antmaze.goal_distance(data["next_observations"][:, :2], goal) <= antmaze.GOAL_RADIUS
    data.update(rewards=hit.astype(np.float32), terminals=hit, timeouts=timeouts)
    metadata = {"name": name, "seed": int(seed), "size": int(size),
                "generator_version": GENERATOR_VERSION, "maze": maze, "rule": rule,
                "eval_goal": goal, "goal_radius": antmaze.GOAL_RADIUS,
                "episode_length": int(episode_length), "action_noise": float(action_noise),
                "offset_rule": offset_rule, "diverse_goals": diverse_goals,
                "waypoint_noise": WAYPOINT_NOISE,
                "goal_cells": goal_cells(maze, rule, diverse_goals),
                "start_cells": start_cells(maze, rule)}
    for key in ("step", "return", "init_seed"):
        if key in actor.meta:
            metadata[f"policy_{key}"] = actor.meta[key]
    return data, metadata
