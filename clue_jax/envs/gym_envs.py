"""gymnasium / gymnasium-robotics envs made D4RL-compatible, and their factories.

- `D4RLCompat`: flat float32 observations, actions clipped to [-1, 1].
- `AdroitRewardFix`: gymnasium-robotics' AdroitHand{Door,Hammer,Relocate}-v1
  (1.2.1 to 1.4.2) reward the hand for moving *away* from the object:
  +0.1 * ||palm - object|| where D4RL/DAPG has -0.1 * ||palm - object||
  (Gymnasium-Robotics PR #220; fixed only as AdroitHand*-v2 in >= 1.4.3, not on
  PyPI here). The wrapper subtracts 0.2 * ||palm - object|| after each step,
  which restores D4RL's reward and so its normalized scores. Pen is unaffected.
  Drop it when moving to the -v2 envs.
"""

import contextlib
import warnings
from typing import Callable

import gymnasium
import numpy as np

Factory = Callable[[int], gymnasium.Env]


class D4RLCompat(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Flat float32 observations (obs_dim,) and actions clipped to [-1, 1]."""

    def __init__(self, env: gymnasium.Env, obs_dim: int):
        gymnasium.utils.RecordConstructorArgs.__init__(self, obs_dim=obs_dim)
        super().__init__(env)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, env.action_space.shape, np.float32)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return np.asarray(obs, np.float32).reshape(-1), info

    def step(self, action):
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return np.asarray(obs, np.float32).reshape(-1), float(reward), terminated, truncated, info


def hand_to_object_distance(task: str, adroit_env) -> float:
    """||palm - object|| as D4RL's Adroit reward measures it, from an unwrapped env."""
    data = adroit_env.data
    if task == "door":
        palm, target = data.site_xpos[adroit_env.grasp_site_id], data.site_xpos[
            adroit_env.handle_site_id]
    elif task in ("hammer", "relocate"):
        palm, target = data.site_xpos[adroit_env.S_grasp_site_id], data.xpos[
            adroit_env.obj_body_id]
    else:
        raise ValueError(f"task: got {task!r}, expected 'door', 'hammer' or 'relocate'.")
    return float(np.linalg.norm(palm - target))


class AdroitRewardFix(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Restore D4RL's -0.1 * ||palm - object|| term (see the module docstring)."""

    def __init__(self, env: gymnasium.Env, task: str):
        gymnasium.utils.RecordConstructorArgs.__init__(self, task=task)
        super().__init__(env)
        self.task = task

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = reward - 0.2 * hand_to_object_distance(self.task, self.env.unwrapped)
        return obs, reward, terminated, truncated, info


# gymnasium 1.4's half_cheetah.xml uses <compiler settotalmass>, which MuJoCo 4 compiles with
# a deprecation warning printed for every env made (dozens per evaluation). Dropped here; any
# other MuJoCo warning is re-raised as a Python warning.
_KNOWN_MODEL_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)


@contextlib.contextmanager
def _quiet_known_model_warnings():
    """While compiling a gymnasium model: drop _KNOWN_MODEL_WARNINGS, forward the rest."""
    import mujoco

    def handler(message: str) -> None:
        if not message.startswith(_KNOWN_MODEL_WARNINGS):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def import_gymnasium_robotics():
    """`import gymnasium_robotics` without its import-time notice about the Adroit v1 reward
    (the reward is fixed here, see AdroitRewardFix); anything else it prints passes through."""
    import io
    import sys
    if "gymnasium_robotics" in sys.modules:
        return sys.modules["gymnasium_robotics"]
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        import gymnasium_robotics
    for line in captured.getvalue().splitlines():
        if "reward functions were updated in v1.2.1" not in line:
            print(line, file=sys.stderr)
    return gymnasium_robotics


def gymnasium_factory(env_id: str, obs_dim: int, robotics: bool = False,
                      adroit_fix: str = "", d4rl_model: str = "", **kwargs) -> Factory:
    """Factory(seed) of `env_id` without gymnasium's own TimeLimit (make_env adds one).

    Args:
        env_id: a gymnasium id such as 'Hopper-v5' or 'AdroitHandDoor-v1'.
        obs_dim: flat observation size.
        robotics: import and register gymnasium_robotics first (lazily).
        adroit_fix: 'door' | 'hammer' | 'relocate' to wrap with AdroitRewardFix.
        d4rl_model: 'hopper' | 'halfcheetah' | 'walker2d' to give the env D4RL's compiled
            model and terminal reward (clue_jax.envs.d4rl_models).
        **kwargs: passed to gymnasium.make.
    """
    def factory(seed: int) -> gymnasium.Env:
        del seed  # make_env seeds through reset(seed=...)
        if robotics:
            gymnasium.register_envs(import_gymnasium_robotics())  # slow; Adroit and the mazes
        with _quiet_known_model_warnings():
            env = gymnasium.make(env_id, disable_env_checker=True, **kwargs)
        while isinstance(env, gymnasium.wrappers.TimeLimit):
            env = env.env
        if adroit_fix:
            env = AdroitRewardFix(env, adroit_fix)
        if d4rl_model:
            from clue_jax.envs.d4rl_models import d4rl_locomotion
            env = d4rl_locomotion(env, d4rl_model)
        return D4RLCompat(env, obs_dim)
    return factory
