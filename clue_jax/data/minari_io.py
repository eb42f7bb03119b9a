"""Local Minari datasets as D4RL-layout dicts.

Minari stores episodes: T actions/rewards/terminations/truncations and T + 1
observations (the last is the state after the final action). This module
concatenates episodes into the flat D4RL layout

    observations (N, obs_dim)  = each episode's observations[:-1]
    next_observations (N, obs_dim) = observations[1:]  (true next states)
    actions (N, act_dim), rewards (N,), terminals = terminations,
    timeouts = truncations

Dict observations (gymnasium-robotics mazes: 'observation', 'achieved_goal',
'desired_goal') are flattened by concatenating the parts in `obs_keys` order;
the default is observation, achieved_goal, desired_goal (those present), then
any other keys sorted by name. Each part is also kept as 'infos/<key>'
(N, dim), like D4RL's 'infos/goal'. Only local datasets are read
(`minari.load_dataset` works offline for them): nothing is downloaded.
"""

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from clue_jax.data.d4rl_io import DatasetNotFoundError
from clue_jax.data.dataset import DatasetError

DEFAULT_GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def minari_root() -> str:
    """Minari's local dataset folder: $MINARI_DATASETS_PATH, else ~/.minari/datasets."""
    return os.environ.get("MINARI_DATASETS_PATH") or os.path.join(
        os.path.expanduser("~"), ".minari", "datasets")


def order_keys(keys: Sequence[str], obs_keys: Optional[Sequence[str]]) -> List[str]:
    if obs_keys is not None:
        missing = [k for k in obs_keys if k not in keys]
        if missing:
            raise DatasetError(f"minari: obs_keys {missing} not in the observation dict "
                               f"(keys {sorted(keys)}).")
        return list(obs_keys)
    first = [k for k in DEFAULT_GOAL_KEYS if k in keys]
    return first + sorted(k for k in keys if k not in first)


def _flatten_obs(obs, obs_keys: Optional[Sequence[str]]):
    """(T + 1, obs_dim) array and the dict parts (or {}) of one episode's observations."""
    if isinstance(obs, dict):
        parts = {k: np.asarray(obs[k], np.float32).reshape(len(obs[k]), -1)
                 for k in order_keys(list(obs), obs_keys)}
        return np.concatenate(list(parts.values()), axis=1), parts
    if isinstance(obs, (tuple, list)):
        raise DatasetError("minari: tuple observation spaces are not supported; "
                           "only Box and Dict-of-Box observations.")
    obs = np.asarray(obs, np.float32)
    return obs.reshape(len(obs), -1), {}


def load_minari(dataset_id: str, obs_keys: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Read local Minari dataset `dataset_id` into the D4RL layout (see module doc).

    Args:
        dataset_id: e.g. 'D4RL/door/expert-v2' (with or without a 'minari:' prefix).
        obs_keys: order of dict observation parts to concatenate (default above).

    Returns:
        dict observations, next_observations (N, obs_dim) float32, actions
        (N, act_dim) float32, rewards (N,) float32, terminals, timeouts (N,) bool,
        'infos/<part>' for dict observations, 'metadata/...' scalars.

    Raises:
        DatasetNotFoundError: the dataset is not in the local Minari folder.
        DatasetError: minari is not installed, or the dataset has no steps.
    """
    dataset_id = dataset_id[len("minari:"):] if dataset_id.startswith("minari:") else dataset_id
    try:
        import minari
    except ImportError as e:
        raise DatasetError("minari datasets need the minari package: "
                           'pip install "minari[hdf5]"') from e
    try:
        dataset = minari.load_dataset(dataset_id)
    except (FileNotFoundError, ValueError) as e:
        raise DatasetNotFoundError(
            f"Minari dataset '{dataset_id}' not found locally ({e}). Looked in "
            f"{os.path.join(minari_root(), dataset_id)} ($MINARI_DATASETS_PATH). Fix: "
            f"`minari download {dataset_id}` on a machine with internet and copy the folder "
            "there, or set $MINARI_DATASETS_PATH to the folder that holds it.") from e
    columns: Dict[str, list] = {k: [] for k in ("observations", "next_observations", "actions",
                                                "rewards", "terminals", "timeouts")}
    infos: Dict[str, list] = {}
    for episode in dataset.iterate_episodes():
        obs, parts = _flatten_obs(episode.observations, obs_keys)
        steps = len(episode.rewards)
        columns["observations"].append(obs[:-1])
        columns["next_observations"].append(obs[1:])
        columns["actions"].append(np.asarray(episode.actions, np.float32).reshape(steps, -1))
        columns["rewards"].append(np.asarray(episode.rewards, np.float32).reshape(steps))
        columns["terminals"].append(np.asarray(episode.terminations, bool).reshape(steps))
        columns["timeouts"].append(np.asarray(episode.truncations, bool).reshape(steps))
        for key, value in parts.items():
            infos.setdefault(f"infos/{key}", []).append(value[:-1])
    if not columns["rewards"] or sum(len(r) for r in columns["rewards"]) == 0:
        raise DatasetError(f"Minari dataset '{dataset_id}' has no steps.")
    raw = {k: np.concatenate(v) for k, v in {**columns, **infos}.items()}
    raw["metadata/dataset_id"] = dataset_id
    for key in ("ref_min_score", "ref_max_score"):
        value = getattr(dataset.storage, "metadata", {}).get(key)
        if value is not None:
            raw[f"metadata/{key}"] = value
    return raw
