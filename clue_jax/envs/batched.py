"""Many envs of one name stepped together: MuJoCo on host threads, the rest vectorized.

    stepper = BatchStepper([registry.make_env(name, s) for s in seeds])
    obs = stepper.reset_all(seeds)                       # (E, obs_dim) float32
    out = stepper.step(actions, rows)                    # the envs `rows` take one step

A `BatchStepper` holds envs made by `registry.make_env` (made once, reset for every
episode through their own `reset`, so start states are theirs; the reset state is then
copied into the batch). A step skips the per-env wrapper chains: the actions go into
one (E, nu) ctrl array, MuJoCo steps every env on its own thread pool
(`mujoco.batch.Batch`, one row of integration state per env, bit-identical to stepping
each env's MjData), and observations, rewards and terminations are computed for all
envs at once by the family's kernel from the (E, nq) qpos and (E, nv) qvel, with the
same arithmetic as the env's own `step` (tests/test_batched_envs.py checks episodes
equal, step for step):

    gymnasium Hopper / Walker2d / HalfCheetah-v5 (the -v2 names with D4RL's models and
        terminal bonus, and the gen-* names)         _LocomotionKernel
    D4RLAntMazeEnv (antmaze-*)                        _AntMazeKernel
    PointMaze2DEnv (gen-pointmaze-*, maze2d-*)        _PointMazeKernel

Any other env (Adroit, Ant-v5, Minari's, a user's registered env), or a wrapper
chain the kernels do not know, steps through `env.step` one env after another
(`_WrappedKernel`), the reference path.
"""

import os
from typing import List, NamedTuple, Optional, Sequence

import gymnasium
import mujoco
import numpy as np

from clue_jax.envs import antmaze, pointmaze
from clue_jax.envs.d4rl_models import TerminalHealthyBonus
from clue_jax.envs.gym_envs import D4RLCompat


class StepResult(NamedTuple):
    """One step of n envs: observations (n, obs_dim) float32, rewards (n,) float64 (each
    the float the env's step returns), terminated / truncated (n,) bool, success (n,) bool
    (info['success'] where the env reports it, else `terminated`)."""

    observations: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    success: np.ndarray


def _chain(env: gymnasium.Env) -> List[gymnasium.Env]:
    """The wrappers from the outside in, then the unwrapped env."""
    out = [env]
    while isinstance(out[-1], gymnasium.Wrapper):
        out.append(out[-1].env)
    return out


def default_threads() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _WrappedKernel:
    """The reference path: each env's own `step`, through its wrappers, one after another."""

    def __init__(self, envs: Sequence[gymnasium.Env]):
        self.envs = list(envs)
        self.results = {}

    def physics(self, i: int, action: np.ndarray) -> None:
        obs, reward, terminated, truncated, info = self.envs[i].step(action)
        self.results[i] = (obs, reward, terminated, truncated,
                           bool(info.get("success", terminated)))

    def outcome(self, rows, actions, qpos_before, qpos, qvel):
        out = [self.results.pop(i) for i in rows]
        obs = np.stack([np.asarray(o[0], np.float32) for o in out])
        return (obs, np.array([float(o[1]) for o in out]), np.array([o[2] for o in out], bool),
                np.array([o[3] for o in out], bool), np.array([o[4] for o in out], bool))


class _MujocoKernel:
    """A kernel over `mujoco.batch.Batch`: one row of integration state per env (qpos,
    qvel, warm start, ctrl, ...), stepped on MuJoCo's own thread pool, bit-identical to
    stepping each env's MjData (MuJoCo's guarantee; tests/test_batched_envs.py checks it
    against each env's `step`). Subclasses write the actions (`apply`) and compute the
    batch's outcome from its qpos / qvel (`outcome`)."""

    def __init__(self, envs: Sequence[gymnasium.Env], sims: Sequence, nstep: int,
                 threads: int):
        import mujoco.batch  # MuJoCo >= 4
        self.envs = list(envs)
        self.models = [m for m, _ in sims]
        self.datas = [d for _, d in sims]
        self.nstep = nstep
        self.batch = mujoco.batch.Batch(self.models[0], len(self.envs), nthread=threads)
        self.qpos = self.batch.bind("qpos")
        self.qvel = self.batch.bind("qvel")
        self.ctrl = self.batch.bind("ctrl")

    def load(self, i: int) -> None:
        """Row i := env i's simulator state (after its own reset or a state set by hand)."""
        mujoco.mj_getState(self.models[i], self.datas[i], self.batch.state[i],
                           mujoco.mjtState.mjSTATE_INTEGRATION)

    def physics(self, rows: np.ndarray, actions: np.ndarray) -> None:
        self.apply(rows, actions)
        self.batch.step(rows, nstep=self.nstep)

    def apply(self, rows: np.ndarray, actions: np.ndarray) -> None:
        self.ctrl[rows] = actions


class _LocomotionKernel(_MujocoKernel):
    """gymnasium's Hopper / Walker2d / HalfCheetah-v5 under D4RLCompat (and D4RL's terminal
    bonus): their `step`, `_get_obs`, `is_healthy` and `_get_rew`, over a batch."""

    KINDS = ("HopperEnv", "Walker2dEnv", "HalfCheetahEnv")

    def __init__(self, envs, chains, threads):
        inner = [c[-1] for c in chains]
        env = inner[0]
        super().__init__(envs, [(e.model, e.data) for e in inner], env.frame_skip, threads)
        self.kind = type(env).__name__
        self.dt = env.dt
        self.forward_weight = env._forward_reward_weight
        self.ctrl_weight = env._ctrl_cost_weight
        self.exclude_x = env._exclude_current_positions_from_observation
        self.healthy_reward = getattr(env, "_healthy_reward", 0.0)
        self.terminate = getattr(env, "_terminate_when_unhealthy", False)
        self.state_range = getattr(env, "_healthy_state_range", None)
        self.z_range = getattr(env, "_healthy_z_range", None)
        self.angle_range = getattr(env, "_healthy_angle_range", None)
        bonus = [w for w in chains[0] if isinstance(w, TerminalHealthyBonus)]
        self.terminal_bonus = bonus[0].healthy_reward if bonus else None

    def _healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        if self.kind == "HalfCheetahEnv":
            return np.ones(len(qpos), bool)
        z, angle = qpos[:, 1], qpos[:, 2]
        healthy = ((self.z_range[0] < z) & (z < self.z_range[1])
                   & (self.angle_range[0] < angle) & (angle < self.angle_range[1]))
        if self.kind == "HopperEnv":
            state = np.concatenate([qpos, qvel], axis=1)[:, 2:]
            healthy &= np.all((self.state_range[0] < state) & (state < self.state_range[1]),
                              axis=1)
        return healthy

    def outcome(self, rows, actions, qpos_before, qpos, qvel):
        x_velocity = (qpos[:, 0] - qpos_before[:, 0]) / self.dt
        velocity = qvel if self.kind == "HalfCheetahEnv" else np.clip(qvel, -10, 10)
        position = qpos[:, 1:] if self.exclude_x else qpos
        obs = np.concatenate([position, velocity], axis=1).astype(np.float32)
        ctrl_cost = self.ctrl_weight * np.sum(np.square(actions), axis=1)  # float32, as theirs
        forward = self.forward_weight * x_velocity
        healthy = self._healthy(qpos, qvel)
        if self.kind == "HalfCheetahEnv":
            rewards = forward - ctrl_cost
            terminated = np.zeros(len(rows), bool)
        else:
            rewards = (forward + healthy * self.healthy_reward) - ctrl_cost
            terminated = ~healthy & bool(self.terminate)
        if self.terminal_bonus is not None:
            rewards = np.where(terminated, rewards + self.terminal_bonus, rewards)
        return obs, rewards.astype(np.float64), terminated, np.zeros(len(rows), bool), terminated


class _AntMazeKernel(_MujocoKernel):
    """D4RLAntMazeEnv: `antmaze.physics_step`'s ctrl and steps, then observation and goal
    test for the batch."""

    def __init__(self, envs, chains, threads):
        self.inner = [c[-1] for c in chains]
        super().__init__(envs, [(e.model, e.data) for e in self.inner], antmaze.FRAME_SKIP,
                         threads)

    def apply(self, rows: np.ndarray, actions: np.ndarray) -> None:
        self.ctrl[rows] = antmaze.ACTION_SCALE * np.clip(actions.astype(np.float64), -1.0, 1.0)

    def outcome(self, rows, actions, qpos_before, qpos, qvel):
        goals = np.stack([self.inner[i].goal for i in rows])
        success = antmaze.goal_distance(qpos[:, :2], goals) <= antmaze.GOAL_RADIUS
        return (antmaze.observation(qpos, qvel), success.astype(np.float64), success,
                np.zeros(len(rows), bool), success)


class _PointMazeKernel(_MujocoKernel):
    """PointMaze2DEnv: its `physics_step` (gymnasium-robotics' PointEnv.step: velocity
    clipped to +-5, ctrl, frame_skip steps), then D4RL observations and the goal test."""

    def __init__(self, envs, chains, threads):
        self.inner = [c[-1] for c in chains]
        point = self.inner[0]._point
        super().__init__(envs, [(e._point.model, e._point.data) for e in self.inner],
                         point.frame_skip, threads)
        self.shape = self.inner[0].grid.shape
        self.targets = np.stack([e.target for e in self.inner])
        self.terminate = np.array([e.terminate_on_success for e in self.inner])

    def apply(self, rows: np.ndarray, actions: np.ndarray) -> None:
        clip = pointmaze.VELOCITY_CLIP
        self.qvel[rows] = np.clip(self.qvel[rows], -clip, clip)
        gym_action = pointmaze.d4rl_to_gym_vec(np.clip(actions.astype(np.float64), -1.0, 1.0))
        self.ctrl[rows] = np.clip(gym_action, -1.0, 1.0)

    def outcome(self, rows, actions, qpos_before, qpos, qvel):
        obs = pointmaze.gym_to_d4rl_obs(qpos, qvel, self.shape)
        success = pointmaze.goal_distance(obs[:, :2], self.targets[rows]) <= \
            pointmaze.GOAL_RADIUS
        return (obs.astype(np.float32), success.astype(np.float64),
                success & self.terminate[rows], np.zeros(len(rows), bool), success)


def _kernel_for(envs: Sequence[gymnasium.Env], threads: int):
    """The batched kernel that reproduces every env's `step`, else `_WrappedKernel`."""
    chains = [_chain(e) for e in envs]
    layouts = {tuple(type(w).__name__ for w in c) for c in chains}
    if len(layouts) != 1:
        return _WrappedKernel(envs)
    layout = layouts.pop()
    inner = chains[0][-1]
    wrappers = layout[1:-1]  # between the TimeLimit and the env
    if layout[0] != "TimeLimit":
        return _WrappedKernel(envs)
    if isinstance(inner, antmaze.D4RLAntMazeEnv) and not wrappers:
        return _AntMazeKernel(envs, chains, threads)
    if isinstance(inner, pointmaze.PointMaze2DEnv) and not wrappers:
        return _PointMazeKernel(envs, chains, threads)
    known = {D4RLCompat.__name__, TerminalHealthyBonus.__name__, "OrderEnforcing"}
    if (layout[-1] in _LocomotionKernel.KINDS and wrappers and wrappers[0] == "D4RLCompat"
            and set(wrappers) <= known):
        return _LocomotionKernel(envs, chains, threads)
    return _WrappedKernel(envs)


def _max_steps(env: gymnasium.Env) -> Optional[int]:
    return env._max_episode_steps if isinstance(env, gymnasium.wrappers.TimeLimit) else None


class BatchStepper:
    """E envs of one name (from `registry.make_env`) stepped together.

    Args:
        envs: the envs; each keeps its own RNGs (resets go through `env.reset`).
        threads: MuJoCo's worker threads (default: the usable cores, at most one per 4
            envs); 1 steps them in this thread.
        reference: step every env through its own `env.step` (the wrapper chain),
            as the evaluator did before this module; same episodes, slower.
    """

    def __init__(self, envs: Sequence[gymnasium.Env], threads: Optional[int] = None,
                 reference: bool = False):
        self.envs = list(envs)
        self.threads = max(1, min(threads, len(self.envs)) if threads else
                           min(default_threads(), len(self.envs) // 4))
        self.kernel = (_WrappedKernel(self.envs) if reference
                       else _kernel_for(self.envs, self.threads))
        self.max_steps = np.array([_max_steps(e) or np.iinfo(np.int64).max for e in self.envs])
        self.elapsed = np.zeros(len(self.envs), np.int64)

    @property
    def batched(self) -> bool:
        """Whether steps skip the wrapper chains (a family kernel), else the reference path."""
        return isinstance(self.kernel, _MujocoKernel)

    def state(self, rows: np.ndarray):
        """(qpos (n, nq), qvel (n, nv)) float64 of the envs `rows` (batched kernels only)."""
        if not self.batched:
            raise ValueError("state(): this env family steps through its own step (no "
                             "batched kernel); read env.unwrapped.data instead.")
        return self.kernel.qpos[rows], self.kernel.qvel[rows]

    def refresh(self, i: int) -> None:
        """Read env i's simulator state again after it was set by hand (e.g. a trace's
        start); after `step`, the batch holds the state and the env's own MjData is stale."""
        if self.batched:
            self.kernel.load(i)

    def reset(self, i: int, seed: Optional[int] = None) -> np.ndarray:
        """Env i's `reset(seed=seed)` (through its wrappers); returns its observation."""
        obs, _ = self.envs[i].reset(seed=seed)
        self.elapsed[i] = 0
        self.refresh(i)
        return np.asarray(obs, np.float32)

    def step(self, actions: np.ndarray, rows: np.ndarray) -> StepResult:
        """Env rows[j] takes actions[j] (the policy's, float32 in [-1, 1]); the others wait.

        Args:
            actions: (n, act_dim) float32, already clipped to [-1, 1].
            rows: (n,) env indices, distinct and increasing.
        Returns:
            StepResult for those n envs (truncated: their TimeLimit ran out).
        """
        rows = np.asarray(rows, np.int64)
        if np.any(np.diff(rows) <= 0):
            raise ValueError("step(): rows must be distinct and increasing.")
        actions = np.asarray(actions, np.float32)
        kernel = self.kernel
        if self.batched:
            before = kernel.qpos[rows]  # a copy (fancy indexing)
            kernel.physics(rows, actions)
            qpos, qvel = kernel.qpos[rows], kernel.qvel[rows]
        else:
            for j, i in enumerate(rows):
                kernel.physics(i, actions[j])
            before = qpos = qvel = None
        obs, rewards, terminated, truncated, success = kernel.outcome(rows, actions, before,
                                                                      qpos, qvel)
        self.elapsed[rows] += 1
        truncated = truncated | (self.elapsed[rows] >= self.max_steps[rows])
        return StepResult(obs, rewards, terminated, truncated, success)

    def close(self, envs: bool = True) -> None:
        """Release the batch and (unless envs=False: the caller owns them) close the envs."""
        self.kernel = _WrappedKernel([]) if self.batched else self.kernel
        if envs:
            for env in self.envs:
                env.close()
