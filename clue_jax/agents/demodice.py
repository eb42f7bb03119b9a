"""DemoDICE (Kim et al., ICLR 2022), faithful to KAIST-AILab/imitation-dice (baselines.md §6).

One joint step on a DemoData batch (union (s, a, s'), expert (s_E, a_E, s'_E),
union initial states s0), three Adam optimisers (3e-4), all losses from the
parameters before the step:

    cost    L_c = BCE(D(s_E, a_E), 1) + BCE(D(s, a), 0) + 0.1 GP_c,
            GP_c = E[(||grad h(x^) + eps|| - 1)^2],  h(x) = log(1 / (sigmoid(D(x)) + 1e-3) - 1 + 1e-3),
            x^ on two segments with the same u per row: expert-union and union-shuffled union
    reward  r = -h(s, a), stop-gradient (~ logit D)
    nu      A = r + discount * nu(s') - nu(s)                  (no terminal mask, as the code)
            L_nu = (1 + alpha) logsumexp_batch(A / (1 + alpha)) + (1 - discount) E[nu(s0)]
                   + 1e-4 E[||grad_s nu||^2] over {s, s^, s'^},
                   s^ = u s_E + (1 - u) s, s'^ = u s'_E + (1 - u) s'
    actor   w = exp((A - max A) / (1 + alpha)) / mean(...),  L_pi = -E[sg(w) log pi(a | s)]

No entropy term. Cost and nu: 256-256 ReLU, He-normal init, linear output without
bias; actor: tanh-Gaussian, mean clipped to +-7, log-std clipped to [-5, 2].
States standardised with the dataset's mean and std (+ 1e-3); the code's
constant-zero input column (using_absorbing=False) is left out: it changes no
output. alpha = 0 as in the code's default.
"""

from typing import Any, Dict, Tuple

import flax
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from clue_jax import networks
from clue_jax.agents import fused, imitation
from clue_jax.data.dataset import DemoData
from clue_jax.types import InfoDict, Params, PRNGKey


class DemoDICEAgent(flax.struct.PyTreeNode):
    """DemoDICE learner state: cost network, nu(s), actor, state statistics."""

    cost: TrainState
    nu: TrainState
    actor: TrainState
    obs_mean: jax.Array
    obs_std: jax.Array
    rng: PRNGKey
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    alpha: float = flax.struct.field(pytree_node=False, default=0.0)
    cost_gp_weight: float = flax.struct.field(pytree_node=False, default=0.1)
    nu_gp_weight: float = flax.struct.field(pytree_node=False, default=1e-4)
    absorbing: bool = flax.struct.field(pytree_node=False, default=False)


def smoothed_cost(logits: jax.Array) -> jax.Array:
    """h = log(1 / (sigmoid(D) + 1e-3) - 1 + 1e-3); the reward is -h."""
    return jnp.log(1.0 / (jax.nn.sigmoid(logits) + 1e-3) - 1.0 + 1e-3)


def cost_loss(cost_params: Params, cost_fn, expert_x, union_x, shuffled_x, u, gp_weight: float
              ) -> Tuple[jax.Array, InfoDict]:
    """BCE(expert = 1, union = 0) + gp_weight * penalty on h at both interpolation segments.

    expert_x, union_x, shuffled_x: (B, d + a) concatenated (s, a); u: (B, 1).
    """
    logit_e = cost_fn({"params": cost_params}, expert_x)
    logit_u = cost_fn({"params": cost_params}, union_x)
    bce = jnp.mean(jax.nn.softplus(-logit_e)) + jnp.mean(jax.nn.softplus(logit_u))
    x_hat = jnp.concatenate([u * expert_x + (1 - u) * union_x,
                             u * union_x + (1 - u) * shuffled_x])
    h = lambda x: smoothed_cost(cost_fn({"params": cost_params}, x))  # noqa: E731
    penalty = imitation.gradient_penalty(h, x_hat, imitation.F32_EPS)
    loss = bce + gp_weight * penalty
    return loss, {"cost_loss": loss, "cost_penalty": penalty,
                  "expert_logit": logit_e.mean(), "union_logit": logit_u.mean()}


def nu_loss(nu_params: Params, nu_fn, s, s_next, s0, rewards, s_hat, s_next_hat,
            discount: float, alpha: float, gp_weight: float
            ) -> Tuple[jax.Array, Tuple[jax.Array, InfoDict]]:
    """DemoDICE's nu loss and the advantage A (B,)."""
    nu = lambda x: nu_fn({"params": nu_params}, x)  # noqa: E731
    adv = rewards + discount * nu(s_next) - nu(s)
    nonlinear = (1.0 + alpha) * jax.nn.logsumexp(adv / (1.0 + alpha))
    linear = (1.0 - discount) * nu(s0).mean()
    points = jnp.concatenate([s, s_hat, s_next_hat])
    grads = imitation.input_gradients(nu, points)
    penalty = jnp.mean(jnp.sum(grads ** 2, axis=-1))
    loss = nonlinear + linear + gp_weight * penalty
    return loss, (adv, {"nu_loss": loss, "nu_penalty": penalty, "adv_mean": adv.mean()})


def policy_weights(adv: jax.Array, alpha: float) -> jax.Array:
    """exp((A - max A) / (1 + alpha)) normalised by its batch mean."""
    w = jnp.exp((adv - adv.max()) / (1.0 + alpha))
    return w / w.mean()


def actor_loss(actor_params: Params, actor_fn, s, actions, w) -> Tuple[jax.Array, InfoDict]:
    means, log_stds = actor_fn({"params": actor_params}, s)
    log_prob = networks.tanh_gaussian_log_prob_of_actions(means, log_stds, actions,
                                                          imitation.F32_EPS)
    loss = -jnp.mean(w * log_prob)
    return loss, {"actor_loss": loss, "log_prob": log_prob.mean()}


def update(agent: DemoDICEAgent, batch: DemoData) -> Tuple[DemoDICEAgent, InfoDict]:
    norm = lambda x: imitation.standardize(x, agent.obs_mean, agent.obs_std)  # noqa: E731
    union, expert = batch.union, batch.expert
    s, s_next, s0 = norm(union.observations), norm(union.next_observations), norm(
        batch.initial_observations)
    s_e, s_next_e = norm(expert.observations), norm(expert.next_observations)
    rng, u_key, perm_key = jax.random.split(agent.rng, 3)
    u = jax.random.uniform(u_key, (s.shape[0], 1))
    union_x = jnp.concatenate([s, union.actions], -1)
    expert_x = jnp.concatenate([s_e, expert.actions], -1)
    shuffled_x = union_x[jax.random.permutation(perm_key, s.shape[0])]
    (_, c_info), c_grads = jax.value_and_grad(cost_loss, has_aux=True)(
        agent.cost.params, agent.cost.apply_fn, expert_x, union_x, shuffled_x, u,
        agent.cost_gp_weight)
    rewards = -smoothed_cost(agent.cost.apply_fn({"params": agent.cost.params}, union_x))
    rewards = jax.lax.stop_gradient(rewards)
    s_hat, s_next_hat = u * s_e + (1 - u) * s, u * s_next_e + (1 - u) * s_next
    (_, (adv, n_info)), n_grads = jax.value_and_grad(nu_loss, has_aux=True)(
        agent.nu.params, agent.nu.apply_fn, s, s_next, s0, rewards, s_hat, s_next_hat,
        agent.discount, agent.alpha, agent.nu_gp_weight)
    w = jax.lax.stop_gradient(policy_weights(adv, agent.alpha))
    (_, a_info), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        agent.actor.params, agent.actor.apply_fn, s, union.actions, w)
    agent = agent.replace(cost=agent.cost.apply_gradients(grads=c_grads),
                          nu=agent.nu.apply_gradients(grads=n_grads),
                          actor=agent.actor.apply_gradients(grads=a_grads), rng=rng)
    return agent, {**c_info, **n_info, **a_info, "reward_mean": rewards.mean(),
                   "weight_max": w.max()}


update_n = fused.fuse(update)
jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


def create(seed, obs_dim: int, act_dim: int, obs_mean, obs_std, config: Dict[str, Any]
           ) -> DemoDICEAgent:
    cfg = dict(config)
    hidden = tuple(cfg["hidden_dims"])
    rng = jax.random.PRNGKey(seed)
    rng, cost_key, nu_key, actor_key = jax.random.split(rng, 4)
    s, a = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    cost_def = networks.StateValue(hidden, "he_normal", output_bias=False)  # c(concat(s, a))
    nu_def = networks.StateValue(hidden, "he_normal", output_bias=False)
    actor_def = networks.ImitationActor(hidden, act_dim, "clip", cfg["mean_clip"], "he_normal")
    state = lambda module, key, x, lr: TrainState.create(  # noqa: E731
        apply_fn=module.apply, params=module.init(key, x)["params"], tx=optax.adam(lr))
    return DemoDICEAgent(
        cost=state(cost_def, cost_key, jnp.concatenate([s, a], -1), cfg["cost_lr"]),
        nu=state(nu_def, nu_key, s, cfg["nu_lr"]),
        actor=state(actor_def, actor_key, s, cfg["actor_lr"]),
        obs_mean=jnp.asarray(obs_mean), obs_std=jnp.asarray(obs_std), rng=rng,
        discount=float(cfg["discount"]), alpha=float(cfg["alpha"]),
        cost_gp_weight=float(cfg["cost_gp_weight"]), nu_gp_weight=float(cfg["nu_gp_weight"]),
        absorbing=False)
