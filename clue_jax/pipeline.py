"""Glue shared by train_iql.py and train_clue.py: task -> data -> IQL run -> results.

Kept apart from the scripts so that the runner and tests call the same code
the command lines do.
"""

import dataclasses
import importlib
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import jax.numpy as jnp
import ml_collections
import numpy as np

from clue_jax import training
from clue_jax.agents import iql
from clue_jax.data.dataset import Dataset, apply_reward_rule

IQL_CONFIGS = {"antmaze": "configs.antmaze_config", "mujoco": "configs.mujoco_config",
               "kitchen": "configs.kitchen_config"}


def get_spec(env_name: str):
    from clue_jax.envs import registry
    return registry.get_spec(env_name)


def default_iql_config(env_name: str) -> ml_collections.ConfigDict:
    """The reference config for the env's domain (antmaze / mujoco / kitchen)."""
    return importlib.import_module(IQL_CONFIGS[get_spec(env_name).iql_config]).get_config()


# Default IQL update budget by env family when --max_steps is not given: the
# reference's 1e6, except the project's generated point mazes, whose budget is
# sized so that the README's main job finishes in minutes on 2 CPU cores.
DEFAULT_MAX_STEPS = {"gen-pointmaze": 50_000}
REFERENCE_MAX_STEPS = 1_000_000


def default_max_steps(env_name: str, max_steps: Optional[int]) -> int:
    """--max_steps if given, else the family's default budget."""
    if max_steps is not None:
        return int(max_steps)
    return DEFAULT_MAX_STEPS.get(get_spec(env_name).family, REFERENCE_MAX_STEPS)


def default_clue_config(env_name: str) -> ml_collections.ConfigDict:
    """configs/clue_config.py for the env's domain."""
    from clue_jax import clue_run
    from configs import clue_config
    return clue_config.get_config(clue_run.clue_domain(get_spec(env_name)))


def clue_config_with_flags(config: ml_collections.ConfigDict, flags) -> ml_collections.ConfigDict:
    """A copy of the CLUE config with the ablation flags applied (never mutates `config`)."""
    config = config.copy_and_resolve_references()
    config.calibrate = bool(flags.calibrate) and bool(config.calibrate)
    if flags.temperature is not None:
        config.temperature = float(flags.temperature)
    if flags.cvae_steps is not None:
        config.num_steps = int(flags.cvae_steps)
    return config


def load_task(env_name: str, *, dataset_path: Optional[str] = None, download: bool = False,
              fraction: float = 1.0, seed: int = 0) -> Tuple[Any, Dataset]:
    """(EnvSpec, Dataset with the file's own rewards) for `env_name`, dims checked."""
    from clue_jax.data import factory
    spec = get_spec(env_name)
    dataset = factory.load_dataset(env_name, dataset_path=dataset_path, download=download,
                                   fraction=fraction, seed=seed)
    factory.check_dims(dataset, spec.obs_dim, spec.act_dim, env_name)
    return spec, dataset


def preprocess_rewards(dataset: Dataset, spec) -> Dataset:
    """The reference's reward rule for the env (antmaze r - 1, locomotion range scaling)."""
    return apply_reward_rule(dataset, spec.reward_rule)


def make_eval_fn(env_name: str, num_episodes: int, seed: int):
    from clue_jax import evaluation

    def eval_fn(policy_fn):
        return evaluation.evaluate(policy_fn, env_name, num_episodes=num_episodes, seed=seed)

    return eval_fn


def iql_policy(agent: iql.IQLAgent):
    """Batched deterministic policy: (E, obs_dim) numpy -> (E, act_dim) numpy."""
    actor = agent.actor
    return lambda obs: np.asarray(iql.eval_actions(actor, jnp.asarray(obs, jnp.float32)))


def run_iql(dataset: Dataset, env_name: str, config: Dict[str, Any], loop: training.LoopConfig,
            run_dir, eval_episodes: int) -> Tuple[Dict[str, Any], iql.IQLAgent]:
    """Train IQL on `dataset` (rewards final), write results.json; returns (results, agent)."""
    agent = iql.create_from_config(loop.seed, jnp.asarray(dataset.observations[:1]),
                                   jnp.asarray(dataset.actions[:1]), config,
                                   max_steps=loop.max_steps)
    eval_fn = make_eval_fn(env_name, eval_episodes, loop.seed) if eval_episodes > 0 else None
    start = time.time()
    agent, history = training.train_offline(agent, dataset, iql.jit_update_n, iql_policy,
                                            eval_fn, loop, run_dir)
    results = {"env_name": env_name, "seed": loop.seed, "steps": loop.max_steps,
               "final_normalized_score": history[-1][1] if history else None,
               "history": history, "wall_time_s": round(time.time() - start, 1)}
    training.write_results(run_dir, results)
    return results, agent


def loop_from_flags(flags, max_steps: int) -> training.LoopConfig:
    return training.LoopConfig(seed=flags.seed, max_steps=int(max_steps),
                               batch_size=flags.batch_size, log_interval=flags.log_interval,
                               eval_interval=flags.eval_interval, progress=flags.tqdm,
                               resume=flags.resume)


def run_dir_for(save_dir: str, algo: str, env_name: str, seed: int) -> Path:
    """<save_dir>/<algo>/<env_name>/seed_<seed>: one folder per run, safe for shell loops."""
    return Path(save_dir) / algo / env_name / f"seed_{seed}"


def config_to_dict(config) -> Dict[str, Any]:
    if isinstance(config, ml_collections.ConfigDict):
        return config.to_dict()
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    return dict(config)

