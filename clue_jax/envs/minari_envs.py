"""`minari:<dataset id>` as an environment name: the env and its scores from the dataset.

    python train_iql.py --env_name=minari:D4RL/door/expert-v2

The first lookup of a `minari:` name reads the local dataset's metadata
(nothing is downloaded) and registers an EnvSpec:
- the env: `dataset.recover_environment(eval_env=True)` (Minari's evaluation env
  spec, else the collection env), Dict observations flattened in the order the
  data layer flattens them (clue_jax.data.minari_io: observation, achieved_goal,
  desired_goal, then the other keys sorted), actions checked to lie in [-1, 1];
- obs/act dims from its spaces, the episode length from its spec;
- reference returns from the dataset's `ref_min_score` / `ref_max_score`
  (NaN when the dataset has none: then evaluation refuses to normalise);
- the family (which reference hyperparameters apply) from the env id: AntMaze
  -> antmaze, PointMaze -> maze2d, the Adroit hand tasks -> adroit, gymnasium's
  MuJoCo locomotion -> locomotion; any other env gets the locomotion (dense
  reward) defaults, and the run says so.
"""

from typing import Tuple

import gymnasium
import numpy as np

from clue_jax.data import minari_io
from clue_jax.envs import registry

PREFIX = "minari:"
# env id fragment -> family (first match wins)
FAMILY_BY_ENV = (("AntMaze", "antmaze"), ("PointMaze", "maze2d"), ("Door", "adroit"),
                 ("Pen", "adroit"), ("Hammer", "adroit"), ("Relocate", "adroit"),
                 ("Hopper", "locomotion"), ("HalfCheetah", "locomotion"),
                 ("Walker2d", "locomotion"), ("Ant", "locomotion"))


class FlattenObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Dict observations as one float32 vector, parts in the data layer's order."""

    def __init__(self, env: gymnasium.Env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        space = env.observation_space
        self.keys = (minari_io.order_keys(list(space.spaces), None)
                     if isinstance(space, gymnasium.spaces.Dict) else None)
        dim = self._flat(space.sample()).shape[0]
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def _flat(self, obs) -> np.ndarray:
        if self.keys is None:
            return np.asarray(obs, np.float32).reshape(-1)
        return np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in self.keys])

    def observation(self, obs) -> np.ndarray:
        return self._flat(obs)


def family_of(env_id: str) -> Tuple[str, bool]:
    """(family, whether it was recognised) of a gymnasium env id."""
    for fragment, family in FAMILY_BY_ENV:
        if fragment in env_id:
            return family, True
    return "locomotion", False


def _load(dataset_id: str):
    import minari
    try:
        return minari.load_dataset(dataset_id)
    except (FileNotFoundError, ValueError) as e:
        raise registry.UnknownEnvError(
            f"--env_name={PREFIX}{dataset_id}: no local Minari dataset '{dataset_id}' ({e}); "
            f"looked in {minari_io.minari_root()} ($MINARI_DATASETS_PATH). Fix: `minari "
            f"download {dataset_id}` where there is internet and copy it there.") from e


def _make(dataset, seed: int) -> gymnasium.Env:
    del seed  # make_env seeds the reset
    try:
        env = dataset.recover_environment(eval_env=True)
    except Exception:  # noqa: BLE001 -- no eval env spec: the collection env
        env = dataset.recover_environment()
    env = FlattenObservation(env.unwrapped if hasattr(env, "unwrapped") else env)
    return env


def register_minari(name: str) -> registry.EnvSpec:
    """Register `minari:<id>` from the local dataset (see module doc); returns its spec."""
    dataset_id = name[len(PREFIX):]
    dataset = _load(dataset_id)
    env = dataset.recover_environment()
    try:
        action_space = env.action_space
        if not isinstance(action_space, gymnasium.spaces.Box) or np.any(
                action_space.low < -1.0 - 1e-6) or np.any(action_space.high > 1.0 + 1e-6):
            raise registry.UnknownEnvError(
                f"--env_name={name}: the env's actions are {action_space}, but this project's "
                "agents act in [-1, 1] (tanh policies, D4RL's convention); use a dataset of "
                "an env with actions in [-1, 1].")
        steps = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else None
        env_id = env.spec.id if env.spec else dataset_id
        obs_dim = FlattenObservation(env).observation_space.shape[0]
    finally:
        env.close()
    if steps is None:
        raise registry.UnknownEnvError(
            f"--env_name={name}: the dataset's env spec sets no max_episode_steps, so the "
            "evaluation episode length is unknown; recreate the dataset from an env with one.")
    metadata = getattr(dataset.storage, "metadata", {}) or {}
    ref_min, ref_max = (float(metadata.get(k, np.nan)) if metadata.get(k) is not None else np.nan
                        for k in ("ref_min_score", "ref_max_score"))
    family, known = family_of(env_id)
    if not known:
        print(f"[clue_jax] {name}: env {env_id} is none of the known families; using the "
              "locomotion (dense-reward) defaults. Pass --config=... to choose others.")
    spec = registry.EnvSpec(name, family, int(obs_dim), int(np.prod(action_space.shape)),
                            int(steps), ref_min, ref_max, family == "antmaze")
    if not (np.isfinite(ref_min) and np.isfinite(ref_max)):
        registry.UNMEASURED_SCORE_HINTS[name] = (
            "the Minari dataset has no ref_min_score / ref_max_score; recreate it with them "
            "(DataCollector.create_dataset(ref_min_score=..., ref_max_score=...)) or run "
            "with --eval_episodes=0.")
    registry.register(spec, lambda seed: _make(dataset, seed), overwrite=True)
    return spec
