"""D4RL maze2d-compatible point maze on gymnasium-robotics' PointMaze_*-v3.

The physics is gymnasium-robotics' PointMaze (its `PointEnv.step`: action
clipped to [-1, 1], velocity clipped to +-5, one MuJoCo step of 0.01 s), whose
point mass and wall grids are D4RL maze2d's. Only the frame differs, and this
module converts (shared/reference/d4rl.md, map H x W cells of size 1):

    x_gym = (col + 0.2) - W/2 + 0.5,   y_gym = H/2 - 0.5 - (row + 0.2)
    v_gym = (v_col, -v_row),           a_gym = (a_col, -a_row)

so observations are D4RL's (row, col, v_row, v_col) qpos/qvel. D4RL draws its
point 0.2 off the grid: cell (r, c) is the qpos (r, c), its geometric centre is
(r - 0.2, c - 0.2), and walls stop the point at centre +- 0.4 (a corridor in
row 3 holds qpos rows 2.40 to 3.20).

Two kinds of env, both `PointMaze2DEnv`:
- maze2d-{umaze,medium,large}-v1 (facts from D4RL d4rl/pointmaze/maze_model.py
  and __init__.py): reset to a uniformly drawn free cell + U(-0.1, 0.1) per
  axis with velocity N(0, 0.1^2); fixed target at the maze's 'G' cell;
  sparse reward 1 when ||qpos - target|| <= 0.5; never terminates; 300 / 600 /
  800 steps.
- the evaluation env of the generated gen-pointmaze-* datasets, an antmaze-like
  protocol: start in a fixed cell (with the same reset noise), fixed goal cell,
  reward 1 and the episode ends when ||qpos - goal|| <= 0.5 (return 0 or 1).
"""

import contextlib
import dataclasses
import functools
import os
from typing import Optional, Sequence, Tuple

import gymnasium
import mujoco
import numpy as np

from clue_jax.envs.antmaze import goal_distance, maze_grid
from clue_jax.envs.d4rl_models import match_d4rl_margins
from clue_jax.envs.gym_envs import import_gymnasium_robotics
from clue_jax.envs.maze_planner import D4RL_OFFSET, free_cells

GOAL_RADIUS = 0.5
VELOCITY_CLIP = 5.0  # gymnasium-robotics' PointEnv clips the velocity to +-5 before each step
RESET_NOISE = 0.1  # D4RL maze2d: qpos + U(-0.1, 0.1), qvel + 0.1 * N(0, 1)
OBS_DIM = 4
ACT_DIM = 2

# maze -> gymnasium-robotics env id. Their maps (U_MAZE, MEDIUM_MAZE, LARGE_MAZE) are
# D4RL maze2d's and antmaze's alike, so the wall grid is `antmaze.maze_grid`'s.
MAZES = {"umaze": "PointMaze_UMaze-v3", "medium": "PointMaze_Medium-v3",
         "large": "PointMaze_Large-v3"}
MAZE2D_TARGETS = {"umaze": (1, 1), "medium": (6, 6), "large": (7, 9)}  # D4RL's 'G' cells


@dataclasses.dataclass(frozen=True)
class EvalProtocol:
    """Evaluation of the generated datasets: fixed start and goal cells (row, col)."""

    start: Tuple[int, int]
    goal: Tuple[int, int]
    max_episode_steps: int


# Start and goal: the cells of D4RL antmaze's. Step limits: D4RL maze2d's; the
# noiseless planner + controller needs 109-115 / 198-206 / 278-283 steps over
# 1000 noisy starts (see below), so each limit is 2.6-2.9x its need.
EVAL = {
    "umaze": EvalProtocol(start=(1, 1), goal=(3, 1), max_episode_steps=300),
    "medium": EvalProtocol(start=(1, 1), goal=(6, 6), max_episode_steps=600),
    "large": EvalProtocol(start=(1, 1), goal=(7, 9), max_episode_steps=800),
}

# Reference returns of that protocol, measured on 2026-11-24 with
# `PYTHONPATH=. python bench/measure_pointmaze_refs.py --episodes 1000` (seed 0):
# ref_min = mean return of a uniform random policy (it reached the goal in 0, 4
# and 0 of 1000 episodes; 1 of 100 in medium with --episodes 100), ref_max = mean
# return of the noiseless planner + PD controller (1000 of 1000 in every maze).
# They are measured values, not antmaze's (0, 1), though they come close.
REFERENCE_RETURNS = {  # maze -> (ref_min, ref_max)
    "umaze": (0.0, 1.0),
    "medium": (0.004, 1.0),
    "large": (0.0, 1.0),
}
GEN_KINDS = ("diverse", "play")


def gen_name(maze: str, kind: str) -> str:
    """Name of a generated dataset, e.g. 'gen-pointmaze-umaze-diverse-v0'."""
    return f"gen-pointmaze-{maze}-{kind}-v0"


def _check_maze(maze: str) -> None:
    if maze not in MAZES:
        raise ValueError(f"maze: got {maze!r}, expected one of {sorted(MAZES)}.")


# ----------------------------------------------------------------------------- frames


def _origin(map_shape: Tuple[int, int]) -> np.ndarray:
    """D4RL (row, col) of gymnasium's origin: (H/2 - 0.5 - 0.2, W/2 - 0.5 - 0.2)."""
    height, width = map_shape
    return np.array([height / 2 - 0.5 - D4RL_OFFSET, width / 2 - 0.5 - D4RL_OFFSET])


def d4rl_to_gym_vec(vec: np.ndarray) -> np.ndarray:
    """A velocity or action (..., 2) in D4RL order (row, col) -> gymnasium (x, y) = (col, -row)."""
    return np.asarray(vec, dtype=np.float64)[..., ::-1] * np.array([1.0, -1.0])


def gym_to_d4rl_vec(vec: np.ndarray) -> np.ndarray:
    """Inverse of `d4rl_to_gym_vec`: gymnasium (x, y) (..., 2) -> D4RL (row, col) = (-y, x)."""
    return np.asarray(vec, dtype=np.float64)[..., ::-1] * np.array([-1.0, 1.0])


def d4rl_to_gym_pos(pos: np.ndarray, map_shape: Tuple[int, int]) -> np.ndarray:
    """D4RL maze2d qpos (..., 2) = (row, col) -> gymnasium-robotics xy (..., 2).

    x = (col + 0.2) - W/2 + 0.5,  y = H/2 - 0.5 - (row + 0.2).
    """
    return d4rl_to_gym_vec(np.asarray(pos, dtype=np.float64) - _origin(map_shape))


def gym_to_d4rl_pos(xy: np.ndarray, map_shape: Tuple[int, int]) -> np.ndarray:
    """Inverse of `d4rl_to_gym_pos`: gymnasium-robotics xy (..., 2) -> (row, col)."""
    return gym_to_d4rl_vec(xy) + _origin(map_shape)


def gym_to_d4rl_obs(qpos: np.ndarray, qvel: np.ndarray, map_shape: Tuple[int, int]) -> np.ndarray:
    """gymnasium-robotics qpos, qvel (..., 2) -> D4RL maze2d observation (..., 4) float64."""
    return np.concatenate([gym_to_d4rl_pos(qpos, map_shape), gym_to_d4rl_vec(qvel)], axis=-1)


# ----------------------------------------------------------------------------- env


def make_gymnasium_maze(maze: str, render_mode: Optional[str] = None):
    """The raw gymnasium-robotics PointMazeEnv of `maze` (no wrappers, goal never resampled)."""
    _check_maze(maze)
    gymnasium.register_envs(import_gymnasium_robotics())  # lazy: slow, registers the mazes
    env = gymnasium.make(MAZES[maze], continuing_task=True, reset_target=False,
                         render_mode=render_mode, disable_env_checker=True).unwrapped
    with contextlib.suppress(OSError):  # the model is loaded; gymnasium-robotics leaves its
        os.remove(env.tmp_xml_file_path)  # temporary MJCF file in /tmp otherwise
    return env


class PointMaze2DEnv(gymnasium.Env):
    """A point maze with D4RL maze2d observations, actions and rewards.

    Args:
        maze: 'umaze', 'medium' or 'large'.
        target: (2,) goal in D4RL qpos units; reward 1 within GOAL_RADIUS of it.
        start_cells: cells (row, col) a reset draws from uniformly; None = every free cell.
        terminate_on_success: end the episode on the first reward (antmaze-style).
        d4rl_walls: D4RL's maze2d model: walls centred at z = 0 (gymnasium-robotics: z =
            0.2; it matters only for deep penetration) and MuJoCo 2.1's contact margins
            (`d4rl_models.match_d4rl_margins`). On for the maze2d-*-v1 names; the
            gen-pointmaze-* data were made with gymnasium's model.
        seed: seeds the reset RNG (reset(seed=...) reseeds it).
        render_mode: passed to gymnasium-robotics.
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"]}

    def __init__(self, maze: str, target: Sequence[float],
                 start_cells: Optional[Sequence[Tuple[int, int]]] = None,
                 terminate_on_success: bool = False, seed: Optional[int] = None,
                 render_mode: Optional[str] = None, d4rl_walls: bool = False):
        self.maze = maze
        self.grid = maze_grid(maze)
        self.target = np.asarray(target, dtype=np.float64)
        cells = free_cells(self.grid) if start_cells is None else np.asarray(start_cells)
        if np.any(self.grid[cells[:, 0], cells[:, 1]] != 0):
            raise ValueError(f"start_cells {cells.tolist()}: every cell must be free in {maze}.")
        self.start_cells = cells.astype(np.int64)
        self.terminate_on_success = terminate_on_success
        self.render_mode = render_mode
        self._maze_env = make_gymnasium_maze(maze, render_mode)
        self._point = self._maze_env.point_env
        if d4rl_walls:
            model = self._point.model
            for i in range(model.ngeom):
                if (mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i) or "").startswith(
                        "block_"):
                    model.geom_pos[i, 2] = 0.0
            match_d4rl_margins(model)
        self._maze_env.goal = d4rl_to_gym_pos(self.target, self.grid.shape)  # drawn by render
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)
        self._np_random, _ = gymnasium.utils.seeding.np_random(seed)

    def _obs(self) -> np.ndarray:
        """(4,) float64 D4RL observation of the simulator's state."""
        data = self._point.data
        return gym_to_d4rl_obs(data.qpos, data.qvel, self.grid.shape)

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Place the point at D4RL qpos (2,) with D4RL qvel (2,); returns the observation."""
        self._point.set_state(d4rl_to_gym_pos(qpos, self.grid.shape), d4rl_to_gym_vec(qvel))
        return self._obs().astype(np.float32)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        rng = self.np_random
        self._maze_env.reset(seed=int(rng.integers(2**31 - 1)))
        self._maze_env.goal = d4rl_to_gym_pos(self.target, self.grid.shape)
        self._maze_env.update_target_site_pos()
        cell = self.start_cells[rng.integers(len(self.start_cells))]
        qpos = cell + rng.uniform(-RESET_NOISE, RESET_NOISE, size=2)
        qvel = RESET_NOISE * rng.standard_normal(2)
        return self.set_state(qpos, qvel), {"success": False, "goal": self.target.copy()}

    def step(self, action):
        self.physics_step(action)
        obs = self._obs()
        distance = float(goal_distance(obs[:2], self.target))
        success = distance <= GOAL_RADIUS
        info = {"success": success, "distance": distance, "goal": self.target.copy()}
        return (obs.astype(np.float32), float(success),
                bool(success and self.terminate_on_success), False, info)

    def physics_step(self, action) -> None:
        """The simulator's part of `step` (gymnasium-robotics' PointEnv.step on the D4RL
        action clipped to [-1, 1]); the batched stepper (envs/batched.py) calls it too."""
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(ACT_DIM), -1.0, 1.0)
        self._point.step(d4rl_to_gym_vec(action))

    def render(self):
        return self._maze_env.render()

    def close(self):
        self._maze_env.close()


def make_maze2d_env(maze: str, seed: Optional[int] = None, **kwargs) -> PointMaze2DEnv:
    """maze2d-{maze}-v1: D4RL's resets, target and sparse reward (no time limit applied)."""
    return PointMaze2DEnv(maze, MAZE2D_TARGETS[maze], seed=seed, d4rl_walls=True, **kwargs)


def make_eval_env(maze: str, seed: Optional[int] = None, **kwargs) -> PointMaze2DEnv:
    """Evaluation env of the gen-pointmaze-{maze}-* datasets (no time limit applied)."""
    protocol = EVAL[maze]
    return PointMaze2DEnv(maze, protocol.goal, start_cells=[protocol.start],
                          terminate_on_success=True, seed=seed, **kwargs)


def _register() -> None:
    """Give the built-in maze2d-* specs their factory and add the gen-pointmaze-* names."""
    from clue_jax.envs import registry
    for maze in MAZES:
        registry.register(registry.get_spec(f"maze2d-{maze}-v1"),
                          functools.partial(make_maze2d_env, maze), overwrite=True)
        ref_min, ref_max = REFERENCE_RETURNS[maze]
        for kind in GEN_KINDS:
            spec = registry.EnvSpec(gen_name(maze, kind), "gen-pointmaze", OBS_DIM, ACT_DIM,
                                    EVAL[maze].max_episode_steps, ref_min, ref_max,
                                    success_based=True)
            registry.register(spec, functools.partial(make_eval_env, maze), overwrite=True)


_register()
