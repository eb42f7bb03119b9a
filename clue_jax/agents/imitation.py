"""Pieces the imitation baselines share (../shared/reference/baselines.md §9).

    discriminator_loss    BCE(expert = 1, other = 0) + weight * gradient penalty on the
                          logit: ORIL's and SMODICE's discriminator (DemoDICE's cost
                          network is the same idea with its own penalty, demodice.py)
    gradient_penalty      E[(||grad f(x^)|| - 1)^2], the interpolation penalty of
                          ORIL / SMODICE / DemoDICE / ValueDICE
    standardize           state standardisation that leaves an absorbing indicator alone
    eval_actions, policy  deterministic tanh(mean) of the tanh-Gaussian actor family
                          (networks.ImitationActor), for evaluation
    orthogonal_penalty    ValueDICE's actor regulariser

The learners themselves: smodice.py, demodice.py, valuedice.py, iqlearn.py.
"""

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import networks
from clue_jax.types import InfoDict, Params

F32_EPS = float(np.finfo(np.float32).eps)


def input_gradients(fn, x: jax.Array) -> jax.Array:
    """Row-wise grad_x fn(x)_i for a row-wise fn: (B, d) -> (B,): one backward pass of sum fn."""
    return jax.grad(lambda v: jnp.sum(fn(v)))(x)


def gradient_penalty(fn, x: jax.Array, eps: float = 0.0) -> jax.Array:
    """mean over rows of (||grad_x fn(x)_i + eps|| - 1)^2; fn: (B, d) -> (B,) row-wise."""
    grads = input_gradients(fn, x)
    return jnp.mean((jnp.linalg.norm(grads + eps, axis=-1) - 1.0) ** 2)


def discriminator_loss(params: Params, apply_fn, expert_x: jax.Array, offline_x: jax.Array,
                       u: jax.Array, gp_weight: float) -> Tuple[jax.Array, InfoDict]:
    """BCE(expert = 1, offline = 0) + gp_weight * gradient penalty of the logit.

    Args:
        expert_x, offline_x: (B, d) inputs. u: (B, 1) interpolation weights in [0, 1];
        the penalty is taken at x^ = u expert_x + (1 - u) offline_x.
    """
    logit_e = apply_fn({"params": params}, expert_x)
    logit_o = apply_fn({"params": params}, offline_x)
    bce = jnp.mean(jax.nn.softplus(-logit_e)) + jnp.mean(jax.nn.softplus(logit_o))
    penalty = gradient_penalty(lambda x: apply_fn({"params": params}, x),
                               u * expert_x + (1.0 - u) * offline_x)
    loss = bce + gp_weight * penalty
    return loss, {"disc_loss": loss, "disc_bce": bce, "disc_penalty": penalty,
                  "expert_logit": logit_e.mean(), "offline_logit": logit_o.mean()}


def standardize(observations: jax.Array, mean: jax.Array, std: jax.Array) -> jax.Array:
    """(x - mean) / std on the first len(mean) dims; an absorbing indicator after them is kept."""
    d = mean.shape[-1]
    return jnp.concatenate([(observations[..., :d] - mean) / std, observations[..., d:]], -1)


def sample_actions(actor_fn, actor_params: Params, observations: jax.Array, key
                   ) -> Tuple[jax.Array, jax.Array]:
    """A reparameterised action of the tanh-Gaussian actor per state and its log-prob:
    (B, d) -> (B, act_dim), (B,)."""
    means, log_stds = actor_fn({"params": actor_params}, observations)
    return networks.sample_tanh_gaussian(means, log_stds, jax.random.normal(key, means.shape))


def orthogonal_penalty(params: Params) -> jax.Array:
    """sum over every Dense kernel W of sum_{i != j} (W^T W)_ij^2 (ValueDICE's actor term)."""
    total = jnp.zeros(())
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if getattr(path[-1], "key", None) == "kernel":
            gram = leaf.T @ leaf
            total = total + jnp.sum(gram ** 2) - jnp.sum(jnp.diag(gram) ** 2)
    return total


def with_real_indicator(observations: jax.Array) -> jax.Array:
    """Env observations (B, d) with the absorbing indicator of a real state (0) appended."""
    return jnp.concatenate(
        [observations, jnp.zeros((observations.shape[0], 1), observations.dtype)], -1)


@jax.jit
def eval_actions(agent, observations: jax.Array) -> jax.Array:
    """tanh(mean(standardized s)) for env observations (B, d) of any imitation agent
    (fields actor, obs_mean, obs_std and the static absorbing flag): (B, act_dim)."""
    if agent.absorbing:
        observations = with_real_indicator(observations)
    means, _ = agent.actor.apply_fn({"params": agent.actor.params},
                                    standardize(observations, agent.obs_mean, agent.obs_std))
    return jnp.tanh(means)
