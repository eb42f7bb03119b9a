"""SMODICE (Ma et al., ICML 2022), faithful to JasonMa2016/SMODICE (baselines.md §5).

The discriminator reward c(s) = logit D(s) comes from the ORIL labeller (the
same module and training as SMODICE's code), so a batch's `rewards` ARE c(s).
One update on a DemoData batch (union (s, a, c, mask, s'), initial states s0):

    e(s, s') = c(s) + discount * mask * V(s') - V(s)          (no target network)
    f = 'kl':   L_V = (1 - discount) E[V(s0)] + log E_union[exp e],  w = exp(e)
    f = 'chi2': L_V = (1 - discount) E[V(s0)] + E_union[e^2 / 2 + e], w = max(e + 1, 0)
    L_pi = -E[sg(w) log pi(a | s)] + sg(alpha_ent) E[log pi(a~ | s)],  a~ ~ pi(s)
    L_theta = -theta * sg(E[log pi(a~ | s)] + H_target),  alpha_ent = exp(theta), H = -|A|

V: Adam 3e-4 with L2 weight decay 1e-4 added to the gradient (PyTorch's Adam
weight_decay); actor and theta: Adam 3e-4. The weights w use e before this
step's V update (the losses are taken from the same forward pass). States carry
the absorbing indicator (data.add_absorbing_states) and are standardised over
the union (std + 1e-10), the indicator left as is.
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

F_DIVERGENCES = ("kl", "chi2")


class SMODICEAgent(flax.struct.PyTreeNode):
    """SMODICE learner state (V, actor, entropy temperature)."""

    value: TrainState
    actor: TrainState
    log_alpha: TrainState
    obs_mean: jax.Array
    obs_std: jax.Array
    rng: PRNGKey
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    f_divergence: str = flax.struct.field(pytree_node=False, default="kl")
    target_entropy: float = flax.struct.field(pytree_node=False, default=-1.0)
    log_prob_eps: float = flax.struct.field(pytree_node=False, default=1e-6)
    absorbing: bool = flax.struct.field(pytree_node=False, default=True)


def value_loss(value_params: Params, value_fn, observations, next_observations, rewards, masks,
               initial_observations, discount: float, f_divergence: str
               ) -> Tuple[jax.Array, Tuple[jax.Array, InfoDict]]:
    """SMODICE's V loss and the advantage e (B,) it is built on."""
    v = value_fn({"params": value_params}, observations)
    v_next = value_fn({"params": value_params}, next_observations)
    v0 = value_fn({"params": value_params}, initial_observations)
    e = rewards + discount * masks * v_next - v
    linear = (1.0 - discount) * v0.mean()
    if f_divergence == "kl":
        nonlinear = jax.nn.logsumexp(e) - jnp.log(e.shape[0])
    else:
        nonlinear = jnp.mean(0.5 * e ** 2 + e)
    loss = linear + nonlinear
    return loss, (e, {"value_loss": loss, "v0": v0.mean(), "e_mean": e.mean()})


def weights(e: jax.Array, f_divergence: str) -> jax.Array:
    """w = exp(e) (KL) or max(e + 1, 0) (chi-square), unnormalised."""
    return jnp.exp(e) if f_divergence == "kl" else jnp.maximum(e + 1.0, 0.0)


def actor_loss(actor_params: Params, actor_fn, observations, actions, w, alpha, noise,
               eps: float) -> Tuple[jax.Array, Tuple[jax.Array, InfoDict]]:
    """-E[w log pi(a|s)] + alpha E[log pi(a~|s)]; returns E[log pi(a~|s)] for the temperature."""
    means, log_stds = actor_fn({"params": actor_params}, observations)
    log_prob = networks.tanh_gaussian_log_prob_of_actions(means, log_stds, actions, eps)
    _, sampled_log_prob = networks.sample_tanh_gaussian(means, log_stds, noise)
    entropy_term = sampled_log_prob.mean()
    loss = -jnp.mean(w * log_prob) + alpha * entropy_term
    return loss, (entropy_term, {"actor_loss": loss, "log_prob": log_prob.mean()})


def update(agent: SMODICEAgent, batch: DemoData) -> Tuple[SMODICEAgent, InfoDict]:
    union = batch.union
    norm = lambda x: imitation.standardize(x, agent.obs_mean, agent.obs_std)  # noqa: E731
    s, s_next, s0 = norm(union.observations), norm(union.next_observations), norm(
        batch.initial_observations)
    (_, (e, v_info)), grads = jax.value_and_grad(value_loss, has_aux=True)(
        agent.value.params, agent.value.apply_fn, s, s_next, union.rewards, union.masks, s0,
        agent.discount, agent.f_divergence)
    value = agent.value.apply_gradients(grads=grads)
    w = jax.lax.stop_gradient(weights(e, agent.f_divergence))
    rng, key = jax.random.split(agent.rng)
    noise = jax.random.normal(key, union.actions.shape)
    alpha = jnp.exp(agent.log_alpha.params["theta"])
    (_, (entropy_term, a_info)), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        agent.actor.params, agent.actor.apply_fn, s, union.actions, w, alpha, noise,
        agent.log_prob_eps)
    actor = agent.actor.apply_gradients(grads=grads)
    target = jax.lax.stop_gradient(entropy_term + agent.target_entropy)
    alpha_grad = jax.grad(lambda p: -p["theta"] * target)(agent.log_alpha.params)
    log_alpha = agent.log_alpha.apply_gradients(grads=alpha_grad)
    info = {**v_info, **a_info, "weight_mean": w.mean(), "weight_max": w.max(), "alpha": alpha}
    return agent.replace(value=value, actor=actor, log_alpha=log_alpha, rng=rng), info


update_n = fused.fuse(update)
jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


def create(seed, obs_dim: int, act_dim: int, obs_mean, obs_std, config: Dict[str, Any]
           ) -> SMODICEAgent:
    """Build the agent for `obs_dim`-dim network inputs (the absorbing indicator included)."""
    cfg = dict(config)
    if cfg["f_divergence"] not in F_DIVERGENCES:
        raise ValueError(f"--config.f_divergence={cfg['f_divergence']!r}: expected one of "
                         f"{F_DIVERGENCES}.")
    rng = jax.random.PRNGKey(seed)
    rng, value_key, actor_key = jax.random.split(rng, 3)
    x = jnp.zeros((1, obs_dim))
    value_def = networks.StateValue(tuple(cfg["hidden_dims"]), "xavier_uniform")
    actor_def = networks.ImitationActor(tuple(cfg["hidden_dims"]), act_dim, "clip",
                                        cfg["mean_clip"], "xavier_uniform")
    value_tx = optax.chain(optax.add_decayed_weights(cfg["value_weight_decay"]),
                           optax.adam(cfg["value_lr"]))
    return SMODICEAgent(
        value=TrainState.create(apply_fn=value_def.apply,
                                params=value_def.init(value_key, x)["params"], tx=value_tx),
        actor=TrainState.create(apply_fn=actor_def.apply,
                                params=actor_def.init(actor_key, x)["params"],
                                tx=optax.adam(cfg["actor_lr"])),
        log_alpha=TrainState.create(apply_fn=None, params={"theta": jnp.zeros(())},
                                    tx=optax.adam(cfg["alpha_lr"])),
        obs_mean=jnp.asarray(obs_mean), obs_std=jnp.asarray(obs_std), rng=rng,
        discount=float(cfg["discount"]), f_divergence=cfg["f_divergence"],
        target_entropy=-float(act_dim), log_prob_eps=float(cfg["log_prob_eps"]),
        absorbing=bool(cfg["absorbing"]))
