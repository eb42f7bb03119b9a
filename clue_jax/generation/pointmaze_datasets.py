"""Offline point-maze datasets gen-pointmaze-{umaze,medium,large}-{diverse,play}-v0.

Made by this project, in D4RL's antmaze style but with the maze2d point mass
(`clue_jax.envs.pointmaze`, observations in D4RL maze2d units):
- 1000-step episodes (`timeouts` on each episode's last row), each starting in
  a uniformly drawn free cell with D4RL maze2d's reset noise;
- the point is steered by the shortest-path planner + PD controller of
  `clue_jax.envs.maze_planner` (D4RL maze2d's gains, kp 10 and kd 1) with
  Gaussian action noise (sigma 0.5, as D4RL's noisy maze2d data), actions
  clipped to [-1, 1];
- 'diverse': the goal is a uniformly drawn free cell, redrawn on arrival
  (within 0.5 of it); 'play': the same among 3-5 hand-picked cells (`PLAY_GOALS`,
  each holding the evaluation goal);
- rewards and terminals relabelled as D4RL antmaze: 1 where the xy of s' lies
  within 0.5 of the FIXED evaluation goal (`pointmaze.EVAL`), else 0; the
  trajectory goes on after reaching it. `infos/goal` holds the goal steered to.

The point masses are simulated in batches with `mujoco.rollout`, one step per
call, on the MjModel of gymnasium-robotics' PointMaze: the same step as
`PointMaze2DEnv.step` (velocity clipped to +-5, then one MuJoCo step).
"""

import functools
from typing import Callable, Dict, Tuple

import numpy as np

from clue_jax import interrupts
from clue_jax.envs import maze_planner, pointmaze

GENERATOR_VERSION = "pointmaze-v0.1"
EPISODE_LENGTH = 1000
ACTION_NOISE = 0.5
BATCH_EPISODES = 1000  # episodes simulated side by side

PLAY_GOALS = {  # hand-picked goal cells (row, col); the evaluation goal is one of them
    "umaze": ((1, 3), (3, 3), (3, 1)),
    "medium": ((1, 6), (3, 3), (6, 1), (6, 6)),
    "large": ((1, 10), (3, 6), (7, 1), (7, 5), (7, 9)),
}

Arrays = Dict[str, np.ndarray]


def demos_name(maze: str) -> str:
    """Expert demonstrations of a maze, for CLUE's imitation setting."""
    return f"gen-pointmaze-{maze}-demos-v0"


# Demonstrations hold whole episodes of about 110 / 200 / 280 steps: these sizes
# give at least 10 of them (the last one may be cut).
DEFAULT_SIZES = {demos_name("umaze"): 2000, demos_name("medium"): 3000,
                 demos_name("large"): 4000}


def generators() -> Dict[str, Callable[[int, int], Tuple[Arrays, dict]]]:
    """name -> generate(size, seed) for every gen-pointmaze dataset and demonstration set."""
    out = {pointmaze.gen_name(maze, kind): functools.partial(generate, maze, kind)
           for maze in pointmaze.MAZES for kind in pointmaze.GEN_KINDS}
    out.update({demos_name(maze): functools.partial(generate_demos, maze)
                for maze in pointmaze.MAZES})
    return out


def goal_cells(maze: str, kind: str) -> np.ndarray:
    """(K, 2) int64 cells the controller steers to in dataset `kind` of `maze`."""
    if kind == "diverse":
        return maze_planner.free_cells(pointmaze.maze_grid(maze))
    if kind == "play":
        return np.asarray(PLAY_GOALS[maze], dtype=np.int64)
    raise ValueError(f"kind: got {kind!r}, expected one of {pointmaze.GEN_KINDS}.")


class _PointBatch:
    """B point masses of one maze stepped together with mujoco.rollout."""

    def __init__(self, maze: str):
        import mujoco
        import mujoco.rollout
        env = pointmaze.make_gymnasium_maze(maze)
        self.model = env.point_env.model
        env.close()
        self.data = mujoco.MjData(self.model)
        self.shape = pointmaze.maze_grid(maze).shape
        self._rollout = mujoco.rollout.rollout
        nstate = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        assert nstate == 5, f"expected state (time, qpos 2, qvel 2), got {nstate} entries"
        self.state = np.zeros((0, nstate))

    def set(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Place the points at D4RL qpos, qvel (B, 2)."""
        self.state = np.zeros((len(qpos), 5))
        self.state[:, 1:3] = pointmaze.d4rl_to_gym_pos(qpos, self.shape)
        self.state[:, 3:5] = pointmaze.d4rl_to_gym_vec(qvel)

    def obs(self) -> np.ndarray:
        """(B, 4) D4RL maze2d observations."""
        return pointmaze.gym_to_d4rl_obs(self.state[:, 1:3], self.state[:, 3:5], self.shape)

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Apply D4RL actions (B, 2) for one step; returns the new observations (B, 4)."""
        self.state[:, 3:5] = np.clip(self.state[:, 3:5], -pointmaze.VELOCITY_CLIP,
                                     pointmaze.VELOCITY_CLIP)
        ctrl = pointmaze.d4rl_to_gym_vec(np.clip(actions, -1.0, 1.0))[:, None, :]
        self.state = self._rollout(self.model, self.data, self.state, ctrl, nstep=1)[0][:, 0]
        return self.obs()


def _simulate(sim: _PointBatch, rng: np.random.Generator, n_episodes: int, maze: str,
              kind: str, length: int, noise: float, kp: float, kd: float) -> Arrays:
    """`n_episodes` episodes of `length` steps: arrays shaped (n_episodes, length, ...)."""
    grid = pointmaze.maze_grid(maze)
    table = maze_planner.next_cell_table(grid)
    candidates = goal_cells(maze, kind)
    starts = maze_planner.draw_cells(rng, maze_planner.free_cells(grid),
                                     np.full((n_episodes, 2), -1))
    sim.set(starts + rng.uniform(-pointmaze.RESET_NOISE, pointmaze.RESET_NOISE, (n_episodes, 2)),
            pointmaze.RESET_NOISE * rng.standard_normal((n_episodes, 2)))
    goals = maze_planner.draw_cells(rng, candidates, starts)
    out = {key: np.empty((n_episodes, length, dim), np.float32)
           for key, dim in (("observations", 4), ("actions", 2), ("next_observations", 4),
                            ("infos/goal", 2))}
    obs = sim.obs()
    for t in range(length):
        arrived = np.linalg.norm(obs[:, :2] - goals, axis=1) <= pointmaze.GOAL_RADIUS
        if arrived.any():
            goals[arrived] = maze_planner.draw_cells(rng, candidates, goals[arrived])
        actions = maze_planner.pd_actions(table, obs, goals, kp, kd)
        actions = np.clip(actions + noise * rng.standard_normal(actions.shape), -1.0, 1.0)
        out["observations"][:, t] = obs
        out["actions"][:, t] = actions
        out["infos/goal"][:, t] = goals
        obs = sim.step(actions)
        out["next_observations"][:, t] = obs
    return out


def generate(maze: str, kind: str, size: int, seed: int, *, noise: float = ACTION_NOISE,
             kp: float = maze_planner.KP, kd: float = maze_planner.KD,
             episode_length: int = EPISODE_LENGTH) -> Tuple[Arrays, dict]:
    """Dataset `gen-pointmaze-{maze}-{kind}-v0` of `size` transitions.

    Deterministic in `seed` (one np.random.default_rng). Episodes are simulated
    BATCH_EPISODES at a time; the last one is cut at `size` rows.

    Returns:
        (data, metadata): data in the D4RL layout, N = size rows:
        observations, next_observations (N, 4) float32; actions (N, 2) float32
        in [-1, 1]; rewards (N,) float32; terminals, timeouts (N,) bool;
        infos/goal, infos/qpos, infos/qvel (N, 2) float32 (D4RL maze2d units;
        qpos/qvel are the observation's halves, as in D4RL's maze2d files).
        metadata: scalars and small arrays describing the generation.
    """
    if size < 1:
        raise ValueError(f"size: got {size}, expected a positive number of transitions.")
    goal_cells(maze, kind)  # validates `kind`
    rng = np.random.default_rng(seed)
    sim = _PointBatch(maze)
    n_episodes = -(-size // episode_length)
    chunks = []
    for first in range(0, n_episodes, BATCH_EPISODES):
        batch = min(BATCH_EPISODES, n_episodes - first)
        part = _simulate(sim, rng, batch, maze, kind, episode_length, noise, kp, kd)
        chunks.append({k: v.reshape(batch * episode_length, -1) for k, v in part.items()})
    data = {k: np.concatenate([c[k] for c in chunks])[:size] for k in chunks[0]}
    timeouts = np.zeros(size, dtype=bool)
    timeouts[episode_length - 1::episode_length] = True
    timeouts[-1] = True  # the last (possibly cut) episode ends too
    protocol = pointmaze.EVAL[maze]
    hit = np.linalg.norm(data["next_observations"][:, :2].astype(np.float64)
                         - np.asarray(protocol.goal, np.float64), axis=1) <= pointmaze.GOAL_RADIUS
    data.update(rewards=hit.astype(np.float32), terminals=hit, timeouts=timeouts)
    data["infos/qpos"] = data["observations"][:, :2].copy()
    data["infos/qvel"] = data["observations"][:, 2:].copy()
    metadata = {
        "name": pointmaze.gen_name(maze, kind), "seed": int(seed), "size": int(size),
        "generator_version": GENERATOR_VERSION, "maze": maze, "kind": kind,
        "eval_goal": np.asarray(protocol.goal, np.float64),
        "eval_start": np.asarray(protocol.start, np.float64),
        "goal_radius": pointmaze.GOAL_RADIUS, "episode_length": int(episode_length),
        "goal_cells": goal_cells(maze, kind).astype(np.int64),
        "controller_kp": float(kp), "controller_kd": float(kd), "action_noise": float(noise),
        "reset_noise": pointmaze.RESET_NOISE,
        "observation": "D4RL maze2d (row, col, v_row, v_col); cell (r, c) is qpos (r, c)",
    }
    return data, metadata


def generate_demos(maze: str, size: int, seed: int, *, kp: float = maze_planner.KP,
                   kd: float = maze_planner.KD, batch: int = 64) -> Tuple[Arrays, dict]:
    """Expert demonstrations `gen-pointmaze-{maze}-demos-v0`: `size` transitions.

    The noiseless planner + PD controller runs the evaluation protocol (the
    fixed start with D4RL's reset noise, the fixed goal); each episode ends at
    its first step within 0.5 of the goal (reward 1, terminal 1). Episodes are
    concatenated in the D4RL layout until `size` rows.
    """
    if size < 1:
        raise ValueError(f"size: got {size}, expected a positive number of transitions.")
    protocol = pointmaze.EVAL[maze]
    grid = pointmaze.maze_grid(maze)
    table = maze_planner.next_cell_table(grid)
    rng, sim = np.random.default_rng(seed), _PointBatch(maze)
    goals = np.tile(np.asarray(protocol.goal, np.float64), (batch, 1))
    episodes, rows = [], 0
    while rows < size:
        start = np.tile(np.asarray(protocol.start, np.float64), (batch, 1))
        sim.set(start + rng.uniform(-pointmaze.RESET_NOISE, pointmaze.RESET_NOISE, (batch, 2)),
                pointmaze.RESET_NOISE * rng.standard_normal((batch, 2)))
        obs, trace = sim.obs(), []
        for _ in range(protocol.max_episode_steps):
            interrupts.check()
            actions = np.clip(maze_planner.pd_actions(table, obs, goals, kp, kd), -1.0, 1.0)
            next_obs = sim.step(actions)
            trace.append((obs, actions, next_obs))
            obs = next_obs
        o, a, n = (np.stack(x, axis=1).astype(np.float32) for x in zip(*trace))
        hit = np.linalg.norm(n[..., :2] - goals[:, None], axis=-1) <= pointmaze.GOAL_RADIUS
        for i in np.flatnonzero(hit.any(axis=1)):
            end = int(np.argmax(hit[i])) + 1
            episodes.append((o[i, :end], a[i, :end], n[i, :end]))
            rows += end
    o, a, n = (np.concatenate(x)[:size] for x in zip(*episodes))
    hit = np.linalg.norm(n[:, :2] - np.asarray(protocol.goal, np.float32), axis=1) \
        <= pointmaze.GOAL_RADIUS
    data = {"observations": o, "actions": a, "next_observations": n,
            "rewards": hit.astype(np.float32), "terminals": hit,
            "timeouts": np.zeros(len(o), bool), "infos/qpos": o[:, :2].copy(),
            "infos/qvel": o[:, 2:].copy()}
    data["timeouts"][-1] = not hit[-1]  # a cut last episode ends by timeout
    metadata = {"name": demos_name(maze), "seed": int(seed), "size": int(size), "maze": maze,
                "generator_version": GENERATOR_VERSION, "controller_kp": float(kp),
                "controller_kd": float(kd), "action_noise": 0.0,
                "eval_goal": np.asarray(protocol.goal, np.float64),
                "eval_start": np.asarray(protocol.start, np.float64),
                "episodes": int(hit.sum())}
    return data, metadata
