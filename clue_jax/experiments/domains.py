"""The one per-domain table, and a task resolved once from a dataset name.

Everything that differs by env family lives in `DOMAINS`: the reference IQL
config, how the dataset's own rewards are processed (the `true` labeller),
the labellers' config domain, the default update budget and where an
observation holds the agent's xy (skills summaries). `resolve_task` looks the
name up once and loads the data; every later stage reads the `Task`.
"""

import dataclasses
import importlib
from pathlib import Path
from typing import Optional, Tuple

import ml_collections
import numpy as np

from clue_jax import generation
from clue_jax.data import factory
from clue_jax.data.dataset import Dataset
from clue_jax.envs import locomotion, registry
from clue_jax.generation import pointmaze_datasets

REFERENCE_MAX_STEPS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Domain:
    """Per-family defaults.

    Attributes:
        iql_config: configs/<iql_config>_config.py holds the reference IQL hyperparameters.
        reward_scaling, reward_shift: the reference IQL's processing of the dataset's own
            rewards (AntMaze: r - 1; locomotion: r * 1000 / (max - min return)).
        labeller_domain: domain of configs/clue_config.py and configs/otr_config.py.
        max_steps: default update budget when --max_steps is not given.
        xy: (first, last) observation columns holding the agent's position, or None.
        start_xy: the evaluation start position (OTR's expert rule), or None.
    """

    iql_config: str
    reward_scaling: str
    reward_shift: float
    labeller_domain: str
    max_steps: int = REFERENCE_MAX_STEPS
    xy: Optional[Tuple[int, int]] = None
    start_xy: Optional[Tuple[float, float]] = None


# The project's generated point mazes train 5e4 updates by default so that the
# README's main job finishes in minutes on 2 CPU cores (the reference uses 1e6).
DOMAINS = {
    "antmaze": Domain("antmaze", "none", -1.0, "antmaze", xy=(0, 2), start_xy=(0.0, 0.0)),
    "gen-pointmaze": Domain("antmaze", "none", -1.0, "pointmaze", 50_000, xy=(0, 2),
                            start_xy=(1.0, 1.0)),
    "maze2d": Domain("mujoco", "none", 0.0, "pointmaze", xy=(0, 2)),
    "locomotion": Domain("mujoco", "return_range", 0.0, "locomotion"),
    "gen-locomotion": Domain("mujoco", "return_range", 0.0, "locomotion"),
    "adroit": Domain("kitchen", "none", 0.0, "adroit"),
}


def domain_of(spec: registry.EnvSpec) -> Domain:
    """The Domain of an env spec's family.

    D4RL's ant-*-v2 rewards are left as they are: the reference IQL normalises only
    hopper, halfcheetah and walker2d (train_offline.py).
    """
    if spec.family == "locomotion" and spec.name.startswith("ant-"):
        return dataclasses.replace(DOMAINS["locomotion"], reward_scaling="none")
    return DOMAINS[spec.family]


def iql_config(domain: Domain) -> ml_collections.ConfigDict:
    """The reference IQL config of a domain."""
    return importlib.import_module(f"configs.{domain.iql_config}_config").get_config()


@dataclasses.dataclass(frozen=True)
class Task:
    """A dataset name resolved once: its env spec, domain and transitions.

    `dataset` holds the file's own rewards, unprocessed (the `true` labeller
    processes them; the imitation setting discards them).
    """

    env_name: str
    spec: registry.EnvSpec
    domain: Domain
    dataset: Dataset


def load_dataset(name: str, *, dataset_path: Optional[str] = None, download: bool = False,
                 fraction: float = 1.0, seed: int = 0,
                 max_episode_steps: Optional[int] = None) -> Dataset:
    """Any dataset by name: generated ones are made on first use, then read as D4RL files."""
    if dataset_path is None and generation.is_generated(name):
        dataset_path = generation.ensure_generated(name)
    return factory.load_dataset(name, dataset_path=dataset_path, download=download,
                                max_episode_steps=max_episode_steps,
                                fraction=fraction, seed=seed)


def load_goals(name: str, *, dataset_path: Optional[str] = None, download: bool = False,
               max_episode_steps: Optional[int] = None, fraction: float = 1.0,
               seed: int = 0) -> np.ndarray:
    """`factory.load_goals` for any dataset name (generated ones made on first use)."""
    if dataset_path is None and generation.is_generated(name):
        dataset_path = generation.ensure_generated(name)
    return factory.load_goals(name, dataset_path=dataset_path, download=download,
                              max_episode_steps=max_episode_steps, fraction=fraction, seed=seed)


def resolve_task(env_name: str, *, dataset_path: Optional[str] = None, download: bool = False,
                 fraction: float = 1.0, seed: int = 0) -> Task:
    """Spec, domain and dataset (dims checked against the env) for `env_name`."""
    spec = registry.get_spec(env_name)
    dataset = load_dataset(env_name, dataset_path=dataset_path, download=download,
                           fraction=fraction, seed=seed, max_episode_steps=spec.max_episode_steps)
    factory.check_dims(dataset, spec.obs_dim, spec.act_dim, env_name)
    return Task(env_name, spec, domain_of(spec), dataset)


def demonstrations_for(env_name: str, expert_dataset: Optional[str]) -> Optional[str]:
    """The demonstrations an imitation run of `env_name` reads: `expert_dataset` (a name or
    an HDF5 path) where given, else the project's own (`default_demonstrations`)."""
    return expert_dataset or default_demonstrations(env_name)


def load_demonstrations(name: str) -> Dataset:
    """Demonstrations by an existing HDF5 path, else by dataset name (generated on first
    use); DatasetError / DatasetNotFoundError as `load_dataset` raises them."""
    return load_dataset(name, dataset_path=name if Path(name).exists() else None)


def default_demonstrations(env_name: str) -> Optional[str]:
    """The project's own demonstrations for a generated dataset name, else None.

    gen-{hopper,halfcheetah,walker2d}-*-v0 -> gen-{env}-expert-demos-v0 (the
    shipped SAC expert); gen-pointmaze-{maze}-*-v0 -> gen-pointmaze-{maze}-demos-v0.
    D4RL names have none: pass --expert_dataset.
    """
    parts = env_name.split("-")
    if len(parts) < 3 or parts[0] != "gen":
        return None
    if parts[1] in locomotion.ENVS:
        return locomotion.demos_name(parts[1])
    if parts[1] == "pointmaze":
        return pointmaze_datasets.demos_name(parts[2])
    return None


D4RL_EXPERT_ENVS = ("hopper", "halfcheetah", "walker2d", "ant")


def expert_source(env_name: str) -> Optional[str]:
    """The expert dataset of a locomotion name, where an expert block comes from (SMODICE's
    script takes it from {env}-expert-v2): gen-{env}-*-v0 -> gen-{env}-expert-v0,
    D4RL {env}-*-v2 -> {env}-expert-v2; None for other families."""
    parts = env_name.split("-")
    if len(parts) >= 3 and parts[0] == "gen" and parts[1] in locomotion.ENVS:
        return locomotion.gen_name(parts[1], "expert")
    if len(parts) >= 3 and parts[0] in D4RL_EXPERT_ENVS and parts[-1] == "v2":
        return f"{parts[0]}-expert-v2"
    return None
