"""TD3+BC (Fujimoto & Gu 2021), faithful to sfujim/TD3_BC (../shared/reference/baselines.md §2).

The agent is an immutable pytree with a pure `update(agent, batch)`; `update_n`
fuses K updates in one jitted `lax.scan` (batches drawn inside), and `jax.vmap`
runs several seeds at once, as for IQL.

One update (iteration t = 1, 2, ...):
  critic: a~' = clip(pi_targ(s') + clip(N(0, (0.2 max_a)^2), +-0.5 max_a), +-max_a)
          y = r + discount * mask * min(Q1_targ, Q2_targ)(s', a~')
          L = mean (Q1(s, a) - y)^2 + mean (Q2(s, a) - y)^2
  every `policy_freq`-th t (t % 2 == 0):
          lambda = alpha / sg(mean |Q1(s, pi(s))|)
          L_pi = -lambda * mean Q1(s, pi(s)) + mean over batch and action dims (pi(s) - a)^2
          actor and both critic targets <- tau * online + (1 - tau) * target
States are standardised with the dataset's per-dimension mean and std (+ 1e-3),
held in the agent and applied to s, s' and evaluation observations alike. With
`absorbing` (ORIL as SMODICE's script trains it), states carry an absorbing indicator
as their last dimension, left unscaled, and evaluation observations get a 0 there.
"""

import functools
from typing import Any, Dict, Tuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from clue_jax import networks
from clue_jax.agents import fused, imitation
from clue_jax.agents.iql import polyak
from clue_jax.types import Batch, InfoDict, Params, PRNGKey


class TD3BCAgent(flax.struct.PyTreeNode):
    """TD3+BC learner state."""

    actor: TrainState
    critic: TrainState
    target_actor_params: Params
    target_critic_params: Params
    obs_mean: jax.Array
    obs_std: jax.Array
    rng: PRNGKey
    step: jax.Array  # updates done so far (int32)
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    tau: float = flax.struct.field(pytree_node=False, default=0.005)
    alpha: float = flax.struct.field(pytree_node=False, default=2.5)
    policy_noise: float = flax.struct.field(pytree_node=False, default=0.2)
    noise_clip: float = flax.struct.field(pytree_node=False, default=0.5)
    policy_freq: int = flax.struct.field(pytree_node=False, default=2)
    max_action: float = flax.struct.field(pytree_node=False, default=1.0)
    absorbing: bool = flax.struct.field(pytree_node=False, default=False)


# ----------------------------------------------------------------------------- losses


def critic_loss(critic_params: Params, critic_fn, observations: jax.Array, actions: jax.Array,
                target: jax.Array) -> Tuple[jax.Array, InfoDict]:
    """MSE(Q1, y) + MSE(Q2, y): (B, obs), (B, act), (B,) -> scalar."""
    q1, q2 = critic_fn({"params": critic_params}, observations, actions)
    loss = jnp.mean((q1 - target) ** 2) + jnp.mean((q2 - target) ** 2)
    return loss, {"critic_loss": loss, "q1": q1.mean()}


def actor_loss(actor_params: Params, actor_fn, critic_fn, critic_params: Params,
               observations: jax.Array, actions: jax.Array, alpha: float
               ) -> Tuple[jax.Array, InfoDict]:
    """-lambda * mean Q1(s, pi(s)) + mean (pi(s) - a)^2, lambda = alpha / sg(mean |Q1|)."""
    pi = actor_fn({"params": actor_params}, observations)
    q1, _ = critic_fn({"params": critic_params}, observations, pi)
    lmbda = alpha / jax.lax.stop_gradient(jnp.abs(q1).mean())
    bc = jnp.mean((pi - actions) ** 2)
    loss = -lmbda * q1.mean() + bc
    return loss, {"actor_loss": loss, "bc_loss": bc, "lambda": lmbda}


def critic_target(agent: TD3BCAgent, batch: Batch, noise: jax.Array) -> jax.Array:
    """y = r + discount * mask * min(Q_targ)(s', clip(pi_targ(s') + clipped noise)); (B,)."""
    noise = jnp.clip(noise * agent.policy_noise * agent.max_action,
                     -agent.noise_clip * agent.max_action, agent.noise_clip * agent.max_action)
    next_actions = agent.actor.apply_fn({"params": agent.target_actor_params},
                                        batch.next_observations)
    next_actions = jnp.clip(next_actions + noise, -agent.max_action, agent.max_action)
    q1, q2 = agent.critic.apply_fn({"params": agent.target_critic_params},
                                   batch.next_observations, next_actions)
    return batch.rewards + agent.discount * batch.masks * jnp.minimum(q1, q2)


# ----------------------------------------------------------------------------- update


def normalize(agent: TD3BCAgent, observations: jax.Array) -> jax.Array:
    if agent.absorbing:  # the indicator (last dim) stays as it is
        return imitation.standardize(observations, agent.obs_mean, agent.obs_std)
    return (observations - agent.obs_mean) / agent.obs_std


def update(agent: TD3BCAgent, batch: Batch) -> Tuple[TD3BCAgent, InfoDict]:
    """One TD3+BC iteration: critic step, then (every policy_freq-th) actor step + targets.

    info['actor_loss'] etc. are 0 on iterations without an actor step.
    """
    batch = batch._replace(observations=normalize(agent, batch.observations),
                           next_observations=normalize(agent, batch.next_observations))
    rng, noise_key = jax.random.split(agent.rng)
    noise = jax.random.normal(noise_key, batch.actions.shape)
    target = critic_target(agent, batch, noise)
    grads, c_info = jax.grad(critic_loss, has_aux=True)(
        agent.critic.params, agent.critic.apply_fn, batch.observations, batch.actions, target)
    critic = agent.critic.apply_gradients(grads=grads)
    step = agent.step + 1

    def actor_step(_):
        grads, a_info = jax.grad(actor_loss, has_aux=True)(
            agent.actor.params, agent.actor.apply_fn, critic.apply_fn, critic.params,
            batch.observations, batch.actions, agent.alpha)
        actor = agent.actor.apply_gradients(grads=grads)
        return (actor, polyak(actor.params, agent.target_actor_params, agent.tau),
                polyak(critic.params, agent.target_critic_params, agent.tau), a_info)

    def no_actor_step(_):
        zero = jnp.zeros((), jnp.float32)
        return (agent.actor, agent.target_actor_params, agent.target_critic_params,
                {"actor_loss": zero, "bc_loss": zero, "lambda": zero})

    actor, target_actor, target_critic, a_info = jax.lax.cond(
        step % agent.policy_freq == 0, actor_step, no_actor_step, None)
    agent = agent.replace(actor=actor, critic=critic, target_actor_params=target_actor,
                          target_critic_params=target_critic, rng=rng, step=step)
    return agent, {**c_info, **a_info}


update_n = fused.fuse(update)


jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


# ----------------------------------------------------------------------------- creation


def state_statistics(observations: np.ndarray, enabled: bool = True, eps: float = 1e-3
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std + eps over states, float32 (or 0 / 1 when not enabled);
    TD3+BC's, also the imitation learners' (experiments/agents.py)."""
    obs = np.asarray(observations, np.float64)
    if not enabled:
        return np.zeros(obs.shape[1], np.float32), np.ones(obs.shape[1], np.float32)
    return obs.mean(0).astype(np.float32), (obs.std(0) + eps).astype(np.float32)


def create(seed, observations: jax.Array, actions: jax.Array, *, obs_mean=None, obs_std=None,
           actor_lr: float = 3e-4, critic_lr: float = 3e-4, hidden_dims=(256, 256),
           discount: float = 0.99, tau: float = 0.005, alpha: float = 2.5,
           policy_noise: float = 0.2, noise_clip: float = 0.5, policy_freq: int = 2,
           max_action: float = 1.0, absorbing: bool = False) -> TD3BCAgent:
    """Build a TD3+BC agent; `seed` may be traced (vmap over seeds).

    Args:
        observations: (1, obs_dim) example. actions: (1, act_dim) example.
        obs_mean, obs_std: (obs_dim,) state statistics (`state_statistics`); None: 0 / 1.
            With `absorbing`, observations end in the absorbing indicator and the
            statistics cover the dims before it.
    """
    rng = jax.random.PRNGKey(seed)
    rng, actor_key, critic_key = jax.random.split(rng, 3)
    hidden_dims = tuple(hidden_dims)
    actor_def = networks.DeterministicPolicy(hidden_dims, actions.shape[-1], max_action)
    critic_def = networks.DoubleCritic(hidden_dims, torch_init=True)
    actor_params = actor_def.init(actor_key, observations)["params"]
    critic_params = critic_def.init(critic_key, observations, actions)["params"]
    obs_dim = observations.shape[-1] - (1 if absorbing else 0)
    return TD3BCAgent(
        actor=TrainState.create(apply_fn=actor_def.apply, params=actor_params,
                                tx=optax.adam(actor_lr)),
        critic=TrainState.create(apply_fn=critic_def.apply, params=critic_params,
                                 tx=optax.adam(critic_lr)),
        target_actor_params=jax.tree_util.tree_map(jnp.array, actor_params),
        target_critic_params=jax.tree_util.tree_map(jnp.array, critic_params),
        obs_mean=jnp.zeros(obs_dim) if obs_mean is None else jnp.asarray(obs_mean),
        obs_std=jnp.ones(obs_dim) if obs_std is None else jnp.asarray(obs_std),
        rng=rng, step=jnp.zeros((), jnp.int32), discount=discount, tau=tau, alpha=alpha,
        policy_noise=policy_noise, noise_clip=noise_clip, policy_freq=int(policy_freq),
        max_action=max_action, absorbing=bool(absorbing))


def create_from_config(seed, observations, actions, config: Dict[str, Any], max_steps: int,
                       all_observations=None) -> TD3BCAgent:
    """`create` from configs/td3bc_config.py; state statistics from `all_observations`."""
    cfg = dict(config)
    enabled, eps = cfg.pop("normalize_states"), cfg.pop("normalize_eps")
    del max_steps  # TD3+BC uses constant learning rates
    stats = all_observations if all_observations is not None else observations
    mean, std = state_statistics(np.asarray(stats), enabled, eps)
    return create(seed, observations, actions, obs_mean=mean, obs_std=std, **cfg)


@functools.partial(jax.jit)
def eval_actions(agent: TD3BCAgent, observations: jax.Array) -> jax.Array:
    """Deterministic actions pi(normalized s): (E, obs_dim) -> (E, act_dim)."""
    if agent.absorbing:
        observations = imitation.with_real_indicator(observations)
    return agent.actor.apply_fn({"params": agent.actor.params}, normalize(agent, observations))
