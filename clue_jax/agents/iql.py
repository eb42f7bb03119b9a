"""Implicit Q-Learning (Kostrikov et al. 2021), ported from ikostrikov/implicit_q_learning.

The agent is an immutable pytree; `update(agent, batch) -> (agent, info)` is
pure, so `update_n` fuses K updates into one jitted `lax.scan` with batches
drawn inside the scan, and `jax.vmap` runs several seeds at once.

One update, in the reference's order (shared/reference/iql.md):
  1. V  <- expectile regression onto min(Q1, Q2)_target(s, a)
  2. pi <- advantage-weighted regression with the NEW V and the TARGET critic
  3. Q  <- TD regression onto r + discount * mask * V_new(s')
  4. target critic <- tau * Q + (1 - tau) * target
The target critic's Q(s, a) is computed once and serves steps 1 and 2, and the
new V is applied once to concat(s, s') for steps 2 and 3.
"""

import functools
from typing import Any, Callable, Dict, Tuple

import flax
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from clue_jax import networks
from clue_jax.agents import fused
from clue_jax.types import Batch, InfoDict, Params, PRNGKey

EXP_ADV_MAX = 100.0  # reference: weights exp(beta * adv) clipped at 100


class IQLAgent(flax.struct.PyTreeNode):
    """IQL learner state: three TrainStates, target critic params and an rng."""

    actor: TrainState
    critic: TrainState
    value: TrainState
    target_critic_params: Params
    rng: PRNGKey
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    tau: float = flax.struct.field(pytree_node=False, default=0.005)
    expectile: float = flax.struct.field(pytree_node=False, default=0.8)
    temperature: float = flax.struct.field(pytree_node=False, default=0.1)


# ----------------------------------------------------------------------------- losses


def expectile_loss(diff: jax.Array, expectile: float) -> jax.Array:
    """Asymmetric L2: |expectile - 1(diff < 0)| * diff^2, elementwise."""
    weight = jnp.where(diff > 0, expectile, 1.0 - expectile)
    return weight * diff**2


def value_loss(value_params: Params, value_fn: Callable, observations: jax.Array,
               target_q: jax.Array, expectile: float) -> Tuple[jax.Array, InfoDict]:
    """Expectile regression of V(s) onto target_q (B,)."""
    v = value_fn({"params": value_params}, observations)
    loss = expectile_loss(target_q - v, expectile).mean()
    return loss, {"value_loss": loss, "v": v.mean()}


def awr_weights(target_q: jax.Array, v: jax.Array, temperature: float) -> jax.Array:
    """min(exp(beta * (Q - V)), 100): (B,). beta = 0 weighs every row 1: behaviour cloning."""
    return jnp.minimum(jnp.exp((target_q - v) * temperature), EXP_ADV_MAX)


def actor_loss(actor_params: Params, actor_fn: Callable, observations: jax.Array,
               actions: jax.Array, weights: jax.Array, dropout_key: PRNGKey
               ) -> Tuple[jax.Array, InfoDict]:
    """-mean(w * log pi(a | s)) with the non-squashed Gaussian policy."""
    means, log_stds = actor_fn({"params": actor_params}, observations, training=True,
                               rngs={"dropout": dropout_key})
    log_probs = networks.gaussian_log_prob(means, log_stds, actions)
    loss = -(weights * log_probs).mean()
    return loss, {"actor_loss": loss, "adv_weight": weights.mean()}


def critic_loss(critic_params: Params, critic_fn: Callable, batch: Batch, next_v: jax.Array,
                discount: float) -> Tuple[jax.Array, InfoDict]:
    """mean((Q1 - y)^2 + (Q2 - y)^2), y = r + discount * mask * V(s')."""
    target_q = batch.rewards + discount * batch.masks * next_v
    q1, q2 = critic_fn({"params": critic_params}, batch.observations, batch.actions)
    loss = ((q1 - target_q) ** 2 + (q2 - target_q) ** 2).mean()
    return loss, {"critic_loss": loss, "q1": q1.mean(), "q2": q2.mean()}


def polyak(params: Params, target_params: Params, tau: float) -> Params:
    """tau * params + (1 - tau) * target_params, leafwise."""
    return jax.tree_util.tree_map(lambda p, t: tau * p + (1.0 - tau) * t, params, target_params)


def _apply_grads(state: TrainState, loss_fn: Callable) -> Tuple[TrainState, InfoDict]:
    grads, info = jax.grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), info


# ----------------------------------------------------------------------------- update


def update(agent: IQLAgent, batch: Batch) -> Tuple[IQLAgent, InfoDict]:
    """One IQL gradient step in the reference order (V, actor, Q, target)."""
    q1, q2 = agent.critic.apply_fn({"params": agent.target_critic_params},
                                   batch.observations, batch.actions)
    target_q = jnp.minimum(q1, q2)

    value, v_info = _apply_grads(agent.value, functools.partial(
        value_loss, value_fn=agent.value.apply_fn, observations=batch.observations,
        target_q=target_q, expectile=agent.expectile))

    n = batch.observations.shape[0]
    both = jnp.concatenate([batch.observations, batch.next_observations], 0)
    v_both = value.apply_fn({"params": value.params}, both)
    v, next_v = v_both[:n], v_both[n:]

    dropout_key, rng = jax.random.split(agent.rng)
    weights = awr_weights(target_q, v, agent.temperature)
    actor, a_info = _apply_grads(agent.actor, functools.partial(
        actor_loss, actor_fn=agent.actor.apply_fn, observations=batch.observations,
        actions=batch.actions, weights=weights, dropout_key=dropout_key))

    critic, c_info = _apply_grads(agent.critic, functools.partial(
        critic_loss, critic_fn=agent.critic.apply_fn, batch=batch, next_v=next_v,
        discount=agent.discount))

    agent = agent.replace(actor=actor, critic=critic, value=value, rng=rng,
                          target_critic_params=polyak(critic.params, agent.target_critic_params,
                                                      agent.tau))
    return agent, {**v_info, **a_info, **c_info}


update_n = fused.fuse(update)


jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


# ----------------------------------------------------------------------------- creation


NO_DECAY = ("none", "", None)  # '' and None: as 'none' (the reference's flag)
DECAY_SCHEDULES = ("cosine",) + NO_DECAY


def make_actor_optimizer(actor_lr: float, max_steps: int, schedule: str) -> optax.GradientTransformation:
    """Adam, then a cosine decay of the learning rate from actor_lr to 0 over max_steps."""
    if schedule == "cosine":
        return optax.chain(optax.scale_by_adam(),
                           optax.scale_by_schedule(optax.cosine_decay_schedule(-actor_lr, max_steps)))
    if schedule in NO_DECAY:
        return optax.adam(actor_lr)
    raise ValueError(f"opt_decay_schedule={schedule!r}: expected one of {DECAY_SCHEDULES}.")


def create(seed, observations: jax.Array, actions: jax.Array, *, actor_lr: float = 3e-4,
           value_lr: float = 3e-4, critic_lr: float = 3e-4, hidden_dims=(256, 256),
           discount: float = 0.99, tau: float = 0.005, expectile: float = 0.8,
           temperature: float = 0.1, dropout_rate=None, max_steps: int = 1_000_000,
           opt_decay_schedule: str = "cosine") -> IQLAgent:
    """Build an IQL agent; `seed` may be a traced integer (vmap over seeds).

    Args:
        observations: (1, obs_dim) example. actions: (1, act_dim) example.
    Key use follows the reference: PRNGKey(seed) -> (rng, actor, critic, value).
    """
    rng = jax.random.PRNGKey(seed)
    rng, actor_key, critic_key, value_key = jax.random.split(rng, 4)
    hidden_dims = tuple(hidden_dims)
    actor_def = networks.GaussianPolicy(hidden_dims, actions.shape[-1], dropout_rate=dropout_rate)
    critic_def = networks.DoubleCritic(hidden_dims)
    value_def = networks.ValueCritic(hidden_dims)
    actor = TrainState.create(apply_fn=actor_def.apply,
                              params=actor_def.init(actor_key, observations)["params"],
                              tx=make_actor_optimizer(actor_lr, max_steps, opt_decay_schedule))
    critic_params = critic_def.init(critic_key, observations, actions)["params"]
    critic = TrainState.create(apply_fn=critic_def.apply, params=critic_params,
                               tx=optax.adam(critic_lr))
    value = TrainState.create(apply_fn=value_def.apply,
                              params=value_def.init(value_key, observations)["params"],
                              tx=optax.adam(value_lr))
    # A copy, not an alias: the fused update donates its input buffers.
    target_params = jax.tree_util.tree_map(jnp.array, critic_params)
    return IQLAgent(actor=actor, critic=critic, value=value, target_critic_params=target_params,
                    rng=rng, discount=discount, tau=tau, expectile=expectile,
                    temperature=temperature)


def create_from_config(seed, observations, actions, config: Dict[str, Any], max_steps: int
                       ) -> IQLAgent:
    """`create` with hyperparameters from an IQL ml_collections config."""
    cfg = dict(config)
    return create(seed, observations, actions, max_steps=max_steps, **cfg)


@jax.jit
def eval_actions(actor: TrainState, observations: jax.Array) -> jax.Array:
    """Deterministic mean actions clipped to [-1, 1]: (E, obs_dim) -> (E, act_dim)."""
    means, _ = actor.apply_fn({"params": actor.params}, observations)
    return jnp.clip(means, -1.0, 1.0)
