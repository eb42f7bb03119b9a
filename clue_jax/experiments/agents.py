"""The learners a run can train, by name: how to build one, update it and act with it.

    iql    Implicit Q-Learning (the reference port; every CLUE / OTR table)
    td3bc  TD3+BC (sfujim/TD3_BC; the learner of the SQIL and ORIL baselines)

Agents differ only here; the loop, data, evaluation, checkpoints and logging
are shared (clue_jax/training.py). `true_reward` is how the `true` labeller
processes the dataset's own rewards for this learner, as its reference does.
"""

import dataclasses
from typing import Any, Callable, Dict, Tuple

import jax.numpy as jnp
import ml_collections
import numpy as np

from clue_jax.agents import iql, td3bc
from clue_jax.data.dataset import Dataset
from clue_jax.experiments import domains
from configs import td3bc_config


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """A learner.

    Attributes:
        name: the --agent value.
        default_config: Domain -> the learner's config for that domain.
        create: (seed, dataset, config dict, max_steps) -> agent pytree.
        update_n: the jitted fused update (agent, data, key, num_steps, batch_size).
        policy: agent -> batched deterministic policy (E, obs_dim) np -> (E, act_dim) np.
        true_reward: Domain -> (reward_scaling, reward_shift) of the dataset's own rewards.
    """

    name: str
    default_config: Callable[[domains.Domain], ml_collections.ConfigDict]
    create: Callable[[int, Dataset, Dict[str, Any], int], Any]
    update_n: Callable
    policy: Callable[[Any], Callable[[np.ndarray], np.ndarray]]
    true_reward: Callable[[domains.Domain], Tuple[str, float]]


def iql_policy(agent: iql.IQLAgent):
    """Batched deterministic policy: (E, obs_dim) numpy -> (E, act_dim) numpy."""
    actor = agent.actor
    return lambda obs: np.asarray(iql.eval_actions(actor, jnp.asarray(obs, jnp.float32)))


def td3bc_policy(agent: td3bc.TD3BCAgent):
    return lambda obs: np.asarray(td3bc.eval_actions(agent, jnp.asarray(obs, jnp.float32)))


def _create_iql(seed, dataset: Dataset, config, max_steps):
    return iql.create_from_config(seed, jnp.asarray(dataset.observations[:1]),
                                  jnp.asarray(dataset.actions[:1]), config, max_steps=max_steps)


def _create_td3bc(seed, dataset: Dataset, config, max_steps):
    return td3bc.create_from_config(seed, jnp.asarray(dataset.observations[:1]),
                                    jnp.asarray(dataset.actions[:1]), config, max_steps,
                                    all_observations=dataset.observations)


AGENTS: Dict[str, AgentSpec] = {
    "iql": AgentSpec("iql", domains.iql_config, _create_iql, iql.jit_update_n, iql_policy,
                     lambda d: (d.reward_scaling, d.reward_shift)),
    "td3bc": AgentSpec("td3bc", lambda d: td3bc_config.get_config(), _create_td3bc,
                       td3bc.jit_update_n, td3bc_policy, lambda d: ("none", 0.0)),
}
