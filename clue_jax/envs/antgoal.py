"""A goal-reaching ant: D4RL's antmaze ant in an open arena, steering to a goal near it.

D4RL made its AntMaze datasets with a goal-reaching ant policy steered by a waypoint
planner (D4RL's locomotion/goal_reaching_env.py: the ant's observation with the goal
relative to the torso appended, a dense reward of -||goal - xy||, goals on a disk). This
env is the one that policy is trained in here (`train_sac.py --env_name=gen-antgoal-v0`):

- The ant is the antmaze adapter's (`antmaze.build_model(None)`: D4RL's compiled ant,
  timestep 0.02 with RK4, 5 frames per step, ctrl = 30 * action, D4RL's contact
  parameters and margins) on an open floor: no walls.
- Observation (29,) float32 = the ant's own state without its position (qpos[2:15]: torso
  height, quaternion, 8 joint angles; qvel[:14]) + goal - torso xy. Without the absolute
  position the policy cannot tell one place from another, so whatever it learns in the
  open carries to any waypoint of any maze.
- Goals: at reset and whenever the torso comes within GOAL_RADIUS of the goal, a new goal
  at a distance U(GOAL_MIN, GOAL_MAX) in a uniform direction from the torso, so an episode
  is a chain of goals, as a waypoint planner hands them out (maze cells are 4 apart).
- Reward (`reward_type`): 'progress' (the default here) the torso's speed toward the
  goal, (d_before - d_after) / dt, plus ARRIVAL_BONUS on each arrival; 'distance' D4RL's
  -||goal - xy||; 'sparse' 1 within GOAL_RADIUS, else 0. The choice is ours (D4RL trained
  with 'distance'): progress pays the same for each metre wherever the goal is, which
  keeps the critic's targets on one scale while goals keep moving.
- Termination: when the torso is upside down (its z axis points below the horizon), a
  state the ant cannot leave; episodes last EPISODE_STEPS steps otherwise.
- info: goal, distance, arrivals so far, success (arrived on this step).
- Goal k of an episode is drawn from (a seed drawn at reset, k), so `task_state` (goal,
  arrivals, that seed) with MuJoCo's state restores an episode exactly (SAC's resume).
"""

from typing import Optional

import gymnasium
import mujoco
import numpy as np

from clue_jax.envs import antmaze, registry

NAME = registry.ANTGOAL
OBS_DIM = 29
ACT_DIM = antmaze.ACT_DIM
EPISODE_STEPS = 500
GOAL_MIN, GOAL_MAX = 1.0, 5.0
GOAL_RADIUS = antmaze.GOAL_RADIUS
ARRIVAL_BONUS = 1.0
REWARD_TYPES = ("progress", "distance", "sparse")
DT = antmaze.TIMESTEP * antmaze.FRAME_SKIP


def observation(qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(..., 29) float32: qpos[..., 2:15], qvel[..., :14], goal - qpos[..., :2]."""
    return np.concatenate([qpos[..., 2:15], qvel[..., :14], goal - qpos[..., :2]],
                          axis=-1).astype(np.float32)


def upside_down(qpos: np.ndarray) -> np.ndarray:
    """Whether the torso's z axis points below the horizon (quaternion w, x, y, z at 3:7)."""
    w, x, y, z = (qpos[..., i] for i in range(3, 7))
    return 1.0 - 2.0 * (x * x + y * y) < 0.0  # the world-z component of the body's z axis


def draw_goal(rng: np.random.Generator, xy: np.ndarray) -> np.ndarray:
    """A goal U(GOAL_MIN, GOAL_MAX) away from `xy` in a uniform direction."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    radius = rng.uniform(GOAL_MIN, GOAL_MAX)
    return np.asarray(xy, np.float64) + radius * np.array([np.cos(angle), np.sin(angle)])


class AntGoalEnv(gymnasium.Env):
    """The goal-reaching ant (see the module docstring).

    Args:
        reward_type: one of REWARD_TYPES.
    """

    metadata = {"render_modes": []}

    def __init__(self, reward_type: str = "progress"):
        if reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type={reward_type!r}: expected one of {REWARD_TYPES}.")
        self.reward_type = reward_type
        self.model = antmaze.build_model(None)
        self.data = mujoco.MjData(self.model)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)
        self._qpos0 = self.model.qpos0.copy()
        self.goal = np.zeros(2)
        self.arrivals, self.goal_seed = 0, 0

    def _obs(self) -> np.ndarray:
        return observation(self.data.qpos, self.data.qvel, self.goal)

    def _next_goal(self) -> np.ndarray:
        rng = np.random.default_rng([self.goal_seed, self.arrivals])
        return draw_goal(rng, self.data.qpos[:2])

    def task_state(self) -> dict:
        """What an episode holds beside MuJoCo's state (for an exact resume)."""
        return {"goal": self.goal.copy(), "arrivals": self.arrivals,
                "goal_seed": self.goal_seed}

    def set_task_state(self, state: dict) -> None:
        self.goal = np.asarray(state["goal"], np.float64).copy()
        self.arrivals, self.goal_seed = int(state["arrivals"]), int(state["goal_seed"])

    def set_goal(self, goal) -> None:
        """Steer to `goal` (2,) from now on (a waypoint planner's call)."""
        self.goal = np.asarray(goal, np.float64).copy()

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        rng = self.np_random
        noise = antmaze.RESET_NOISE
        self.data.qpos[:] = self._qpos0 + rng.uniform(-noise, noise, self.model.nq)
        quat = self.data.qpos[3:7]
        self.data.qpos[3:7] = quat / np.linalg.norm(quat)
        self.data.qvel[:] = noise * rng.standard_normal(self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        self.arrivals, self.goal_seed = 0, int(rng.integers(2 ** 62))
        self.goal = self._next_goal()
        return self._obs(), {"goal": self.goal.copy(), "distance": self._distance(),
                             "arrivals": 0, "success": False}

    def _distance(self) -> float:
        return float(antmaze.goal_distance(self.data.qpos[:2], self.goal))

    def step(self, action):
        before = self._distance()
        antmaze.physics_step(self.model, self.data, action)
        after = self._distance()
        arrived = after <= GOAL_RADIUS
        if self.reward_type == "progress":
            reward = (before - after) / DT + (ARRIVAL_BONUS if arrived else 0.0)
        elif self.reward_type == "distance":
            reward = -after
        else:
            reward = float(arrived)
        info = {"goal": self.goal.copy(), "distance": after, "success": arrived}
        if arrived:
            self.arrivals += 1
            self.goal = self._next_goal()
        info["arrivals"] = self.arrivals
        terminated = bool(upside_down(self.data.qpos))
        return self._obs(), float(reward), terminated, False, info
