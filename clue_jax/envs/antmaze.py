"""D4RL-compatible AntMaze (antmaze-*-v2 evaluation) on the `mujoco` bindings.

What is D4RL's and kept here (facts from D4RL's locomotion/ant.py, maze_env.py,
goal_reaching_env.py, wrappers.py and assets/ant.xml):
- The ant of gymnasium's ant.xml (same geometry, masses, joints) with D4RL's
  parameters: timestep 0.02 with RK4, 5 frames per step (dt 0.1), motors with
  gear 1 and ctrlrange +-30, every geom with solref (0.02, 1) and solimp
  (0.8, 0.8, 0.01).
- Actions: D4RL wraps the env in `NormalizedBoxEnv`, which maps an action in
  [-1, 1] linearly onto the inner action space. The inner space comes from the
  actuators' ctrlrange (gym's MujocoEnv), so ctrl = 30 * action: a torque of
  +-30 N m, not +-1 (the project's d4rl.md notes say +-1; D4RL's code says 30).
- World frame = D4RL's frame: walls of 4 x 4 x 2 at (col * 4 - 4, row * 4 - 4),
  the origin at the centre of the start cell (1, 1). gymnasium-robotics
  centres the maze and flips y, which mirrors the maze: an ant is not mirror
  invariant under a fixed leg order, so a D4RL policy could not run in that
  frame by converting xy alone. The wall grids are gymnasium-robotics' maps
  (the same walls as D4RL's U_MAZE_TEST / BIG_MAZE_TEST / HARDEST_MAZE_TEST).
- Observation (29,) float32 = qpos (15: torso xy in D4RL units, z, quaternion,
  8 joint angles) + qvel (14), no goal.
- Reset: qpos0 + U(-0.1, 0.1) on every qpos entry, qvel N(0, 0.1^2); goal drawn
  per episode as D4RL v2 does: goal-cell centre + U[0, 1) + U[0, 0.5) per axis,
  clipped at 0 (the goal cell is (3, 1), (6, 6), (7, 9): about (0, 8), (20, 20),
  (32, 24) plus that offset).
- Reward 1.0 and termination when ||xy - goal|| <= 0.5, else 0.0: an episode
  returns 0 or 1.

Verified here (tests/test_envs.py): the physics parameters of the compiled
model, the 29-dim layout, reward/termination at the radius, wall positions in
D4RL units (the torso stops short of the wall faces at +-2 of the start
corridor), and that random actions keep the ant upright over a short rollout.
Against D4RL's own env (a trace recorded on MuJoCo 2.1, tests/test_d4rl_parity.py):
the compiled model equals D4RL's, the contact margins included (MuJoCo 2.1 takes the
larger of two geoms' margins, MuJoCo 4 their sum: each geom carries half of 0.01), and
a replay stays within 1e-3 of D4RL's observations for 5 steps after the first floor
contact, 0.05 at step 10; solver settings do not change the rest (results/d4rl_parity).
"""

import os
from typing import Optional, Sequence, Tuple

import gymnasium
import mujoco
import numpy as np

from clue_jax.envs import d4rl_models

MAZE_SIZE_SCALING = 4.0
MAZE_HEIGHT = 0.5
TIMESTEP = 0.02
FRAME_SKIP = 5
MOTOR_GEAR = 1.0
CTRL_RANGE = 30.0
ACTION_SCALE = CTRL_RANGE  # NormalizedBoxEnv: [-1, 1] -> [-ctrlrange, ctrlrange]
GEOM_SOLREF = (0.02, 1.0)
GEOM_SOLIMP = (0.8, 0.8, 0.01, 0.5, 2.0)  # D4RL sets the first 3; MuJoCo defaults for the rest
GOAL_RADIUS = 0.5
RESET_NOISE = 0.1
OBS_DIM = 29
ACT_DIM = 8

# maze -> (gymnasium-robotics map name, start cell, goal cell); cells are (row, col).
MAZES = {
    "umaze": ("U_MAZE", (1, 1), (3, 1)),
    "medium": ("MEDIUM_MAZE", (1, 1), (6, 6)),
    "large": ("LARGE_MAZE", (1, 1), (7, 9)),
}


def maze_grid(maze: str) -> np.ndarray:
    """The wall grid (H, W) int array (1 = wall) of `maze` from gymnasium-robotics."""
    if maze not in MAZES:
        raise ValueError(f"maze: got {maze!r}, expected one of {sorted(MAZES)}.")
    from clue_jax.envs.gym_envs import import_gymnasium_robotics
    import_gymnasium_robotics()  # lazy: a heavy import; its Adroit notice dropped
    from gymnasium_robotics.envs.maze import maps
    grid = getattr(maps, MAZES[maze][0])
    return np.array([[1 if c == 1 else 0 for c in row] for row in grid], dtype=np.int64)


def cell_to_d4rl_xy(row: float, col: float, scaling: float = MAZE_SIZE_SCALING,
                    origin_cell: Tuple[int, int] = (1, 1)) -> np.ndarray:
    """Centre of cell (row, col) in D4RL coordinates: (2,) = (col, row) * s - origin."""
    return np.array([(col - origin_cell[1]) * scaling, (row - origin_cell[0]) * scaling])


def cell_xy(cells: np.ndarray) -> np.ndarray:
    """(..., 2) (row, col) -> (..., 2) D4RL xy of the cells' centres (`cell_to_d4rl_xy`)."""
    cells = np.asarray(cells, np.float64)
    return np.stack(list(cell_to_d4rl_xy(cells[..., 0], cells[..., 1])), axis=-1)


def draw_goals(rng: np.random.Generator, cells: np.ndarray) -> np.ndarray:
    """Goals in `cells` (..., 2) as D4RL v2 draws them: centre + U[0, 1) + U[0, 0.5) per
    axis, clipped at 0 (the evaluation env's goal and the generated datasets' goals)."""
    cells = np.asarray(cells)
    quarter = 0.25 * MAZE_SIZE_SCALING
    noise = (rng.uniform(0.0, quarter, size=cells.shape)
             + rng.uniform(0.0, 0.5, size=cells.shape) * quarter)
    return np.maximum(cell_xy(cells) + noise, 0.0)


def gym_to_d4rl_xy(xy_gym: np.ndarray, map_shape: Tuple[int, int],
                   scaling: float = MAZE_SIZE_SCALING,
                   origin_cell: Tuple[int, int] = (1, 1)) -> np.ndarray:
    """gymnasium-robotics maze xy (..., 2) -> D4RL xy (..., 2).

    gymnasium puts the origin at the map centre with y pointing to row 0; D4RL
    at the centre of `origin_cell` with y pointing to higher rows:
    x_d = x_g + W*s/2 - (c0 + 0.5)*s,  y_d = -y_g + H*s/2 - (r0 + 0.5)*s.
    """
    height, width = map_shape
    xy_gym = np.asarray(xy_gym, dtype=np.float64)
    x = xy_gym[..., 0] + width * scaling / 2 - (origin_cell[1] + 0.5) * scaling
    y = -xy_gym[..., 1] + height * scaling / 2 - (origin_cell[0] + 0.5) * scaling
    return np.stack([x, y], axis=-1)


def d4rl_to_gym_xy(xy_d4rl: np.ndarray, map_shape: Tuple[int, int],
                   scaling: float = MAZE_SIZE_SCALING,
                   origin_cell: Tuple[int, int] = (1, 1)) -> np.ndarray:
    """Inverse of `gym_to_d4rl_xy`: D4RL xy (..., 2) -> gymnasium-robotics xy (..., 2)."""
    height, width = map_shape
    xy_d4rl = np.asarray(xy_d4rl, dtype=np.float64)
    x = xy_d4rl[..., 0] - width * scaling / 2 + (origin_cell[1] + 0.5) * scaling
    y = -(xy_d4rl[..., 1] - height * scaling / 2 + (origin_cell[0] + 0.5) * scaling)
    return np.stack([x, y], axis=-1)


def _gymnasium_ant_xml() -> str:
    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "ant.xml")


def _model_spec(maze: Optional[str]) -> mujoco.MjSpec:
    """The maze (None: the open floor) with D4RL's ant as a mujoco.MjSpec."""
    spec = mujoco.MjSpec.from_file(_gymnasium_ant_xml())
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    spec.default.geom.solref = GEOM_SOLREF
    spec.default.geom.solimp = GEOM_SOLIMP
    for geom in spec.geoms:  # parsed geoms hold their own copies of the defaults
        geom.solref = GEOM_SOLREF
        geom.solimp = GEOM_SOLIMP
    for actuator in spec.actuators:
        actuator.gear = [MOTOR_GEAR, 0, 0, 0, 0, 0]
        actuator.ctrlrange = [-CTRL_RANGE, CTRL_RANGE]
    half, half_h = 0.5 * MAZE_SIZE_SCALING, MAZE_HEIGHT / 2 * MAZE_SIZE_SCALING
    walls = np.argwhere(maze_grid(maze) == 1) if maze is not None else ()
    for (row, col) in walls:
        x, y = cell_to_d4rl_xy(row, col)
        spec.worldbody.add_geom(
            default=spec.default, name=f"block_{row}_{col}", type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=[x, y, half_h], size=[half, half, half_h], contype=1, conaffinity=1,
            rgba=[0.7, 0.5, 0.3, 1.0])
    return spec


def build_model(maze: Optional[str]) -> mujoco.MjModel:
    """A fresh MjModel of `maze` ('umaze' | 'medium' | 'large'; None: the open floor of the
    goal-reaching ant, envs/antgoal.py) with D4RL's ant: the MjSpec compiled directly, then
    D4RL's compiled body inertials (envs/d4rl_models.py)."""
    model = _model_spec(maze).compile()
    d4rl_models.apply_bodies(model, "ant")
    return model


class D4RLAntMazeEnv(gymnasium.Env):
    """antmaze-{umaze,medium,large}-v2 evaluation env (see the module docstring).

    Args:
        maze: 'umaze', 'medium' or 'large'.
        goal: a fixed goal (2,) in D4RL xy; None draws one per episode as D4RL v2.
    """

    metadata = {"render_modes": []}

    def __init__(self, maze: str, goal: Optional[Sequence[float]] = None):
        self.maze = maze
        self.model = build_model(maze)
        self.data = mujoco.MjData(self.model)
        self.fixed_goal = None if goal is None else np.asarray(goal, dtype=np.float64)
        self.goal = np.zeros(2)
        self.goal_cell = MAZES[maze][2]
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)
        self._qpos0 = self.model.qpos0.copy()

    def _draw_goal(self) -> np.ndarray:
        if self.fixed_goal is not None:
            return self.fixed_goal.copy()
        return draw_goals(self.np_random, self.goal_cell)

    def _obs(self) -> np.ndarray:
        return observation(self.data.qpos, self.data.qvel)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        self.goal = self._draw_goal()
        mujoco.mj_resetData(self.model, self.data)
        rng = self.np_random
        self.data.qpos[:] = self._qpos0 + rng.uniform(-RESET_NOISE, RESET_NOISE, self.model.nq)
        quat = self.data.qpos[3:7]
        self.data.qpos[3:7] = quat / np.linalg.norm(quat)  # D4RL's reset state has a unit quaternion
        self.data.qvel[:] = RESET_NOISE * rng.standard_normal(self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        return self._obs(), {"goal": self.goal.copy(), "success": False}

    def step(self, action):
        physics_step(self.model, self.data, action)
        distance = float(goal_distance(self.data.qpos[:2], self.goal))
        success = distance <= GOAL_RADIUS
        info = {"goal": self.goal.copy(), "distance": distance, "success": success}
        return self._obs(), float(success), success, False, info


def physics_step(model: mujoco.MjModel, data: mujoco.MjData, action) -> None:
    """One env step of the simulator: ctrl = 30 * clip(action, -1, 1), FRAME_SKIP MuJoCo steps.
    `D4RLAntMazeEnv.step` and the batched stepper (envs/batched.py) both call it."""
    data.ctrl[:] = ACTION_SCALE * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    mujoco.mj_step(model, data, nstep=FRAME_SKIP)


def observation(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """(..., 29) float32: qpos[..., :15] then qvel[..., :14] (one state or a batch)."""
    return np.concatenate([qpos[..., :15], qvel[..., :14]], axis=-1).astype(np.float32)


def goal_distance(xy: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """||xy - goal|| over the last axis (one position or a batch, same numbers either way)."""
    diff = np.asarray(xy, np.float64) - goal
    return np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
