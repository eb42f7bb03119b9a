"""IQ-Learn (Garg et al., NeurIPS 2021), faithful to Div99/IQ-Learn's continuous SAC agent
(baselines.md §8).

IQ-Learn's code always collects online data into its "policy" buffer; here the
union of dataset and demonstrations takes that buffer's place: each update sees
B union rows and B expert rows (a DemoData batch). With the fixed temperature
alpha (0.01) and one reparameterised sample a~ ~ pi(s) per state:

    V(s) = Q(s, a~) - alpha log pi(a~ | s),   V_targ(s') likewise with the target Q (no gradient)
    y = discount * mask * V_targ(s'),   rho = Q(s, a) - y   ("implied reward")
    L_Q = -E_expert[rho] + value term + chi2 term
      value terms: 'v0': (1 - discount) E_expert[V(s)]  (expert states stand in for initial states)
                   'value': E_all[V(s) - y];  'value_expert': E_expert[V(s) - y]
      chi2 term:   'all' (regularize=True): 0.5 E_all[rho^2];  'expert' (chi=True): 0.5 E_expert[rho^2]
    actor: SAC loss E[alpha log pi(a~ | s) - Q(s, a~)] on all 2B states ('all') or expert states
    target Q <- Polyak 0.005 every step; critic Adam 3e-4, actor Adam 3e-5.

Defaults: the recommended MuJoCo recipe for Hopper and Walker2d (loss 'v0',
regularize on all rows, actor on all states); HalfCheetah's recommended recipe
is `--config.value_loss=value`. No state standardisation (as the code).
"""

from typing import Any, Dict, Tuple

import flax
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from clue_jax import networks
from clue_jax.agents import fused, imitation
from clue_jax.agents.iql import polyak
from clue_jax.data.dataset import DemoData
from clue_jax.types import InfoDict, Params, PRNGKey

VALUE_LOSSES = ("v0", "value", "value_expert")
CHI2_ROWS = ("all", "expert", "none")
ACTOR_STATES = ("all", "expert")


class IQLearnAgent(flax.struct.PyTreeNode):
    """IQ-Learn learner state: Q, its target, actor (fixed temperature)."""

    critic: TrainState
    target_critic_params: Params
    actor: TrainState
    obs_mean: jax.Array  # zeros / ones: IQ-Learn does not standardise states
    obs_std: jax.Array
    rng: PRNGKey
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    temperature: float = flax.struct.field(pytree_node=False, default=0.01)
    tau: float = flax.struct.field(pytree_node=False, default=0.005)
    value_loss: str = flax.struct.field(pytree_node=False, default="v0")
    chi2_rows: str = flax.struct.field(pytree_node=False, default="all")
    chi2_weight: float = flax.struct.field(pytree_node=False, default=0.5)
    actor_states: str = flax.struct.field(pytree_node=False, default="all")
    absorbing: bool = flax.struct.field(pytree_node=False, default=False)


def critic_loss(critic_params: Params, critic_fn, s, a, v, y, is_expert, discount: float,
                value_loss: str, chi2_rows: str, chi2_weight: float
                ) -> Tuple[jax.Array, InfoDict]:
    """IQ-Learn's critic loss on 2B rows.

    Args:
        v: V(s) (2B,) built with `critic_params` (gradient flows). y: (2B,) targets.
        is_expert: (2B,) 1.0 on expert rows.
    """
    rho = critic_fn({"params": critic_params}, s, a) - y
    expert_mean = lambda x: jnp.sum(x * is_expert) / jnp.sum(is_expert)  # noqa: E731
    loss = -expert_mean(rho)
    if value_loss == "v0":
        value_term = (1.0 - discount) * expert_mean(v)
    elif value_loss == "value":
        value_term = jnp.mean(v - y)
    else:
        value_term = expert_mean(v - y)
    loss = loss + value_term
    if chi2_rows == "all":
        chi2 = chi2_weight * jnp.mean(rho ** 2)
    elif chi2_rows == "expert":
        chi2 = chi2_weight * expert_mean(rho ** 2)
    else:
        chi2 = jnp.zeros(())
    loss = loss + chi2
    return loss, {"critic_loss": loss, "implied_reward_expert": expert_mean(rho),
                  "implied_reward_all": rho.mean(), "value_term": value_term, "chi2": chi2}


def update(agent: IQLearnAgent, batch: DemoData) -> Tuple[IQLearnAgent, InfoDict]:
    union, expert = batch.union, batch.expert
    cat = lambda x, y: jnp.concatenate([x, y])  # noqa: E731
    s, a = cat(union.observations, expert.observations), cat(union.actions, expert.actions)
    s_next = cat(union.next_observations, expert.next_observations)
    masks = cat(union.masks, expert.masks)
    is_expert = cat(jnp.zeros(union.masks.shape), jnp.ones(expert.masks.shape))
    rng, k_v, k_next, k_actor = jax.random.split(agent.rng, 4)
    actor_fn, critic_fn = agent.actor.apply_fn, agent.critic.apply_fn

    def sample(actor_params, states, key):
        return imitation.sample_actions(actor_fn, actor_params, states, key)

    a_next, logp_next = sample(agent.actor.params, s_next, k_next)
    v_next = critic_fn({"params": agent.target_critic_params}, s_next, a_next) - (
        agent.temperature * logp_next)
    y = jax.lax.stop_gradient(agent.discount * masks * v_next)
    a_v, logp_v = jax.lax.stop_gradient(sample(agent.actor.params, s, k_v))

    def loss(critic_params):
        v = critic_fn({"params": critic_params}, s, a_v) - agent.temperature * logp_v
        return critic_loss(critic_params, critic_fn, s, a, v, y, is_expert, agent.discount,
                           agent.value_loss, agent.chi2_rows, agent.chi2_weight)

    grads, c_info = jax.grad(loss, has_aux=True)(agent.critic.params)
    critic = agent.critic.apply_gradients(grads=grads)
    actor_s = s if agent.actor_states == "all" else expert.observations

    def actor_loss(actor_params):
        actions, logp = sample(actor_params, actor_s, k_actor)
        q = critic_fn({"params": critic.params}, actor_s, actions)
        out = jnp.mean(agent.temperature * logp - q)
        return out, {"actor_loss": out, "entropy": -logp.mean()}

    grads, a_info = jax.grad(actor_loss, has_aux=True)(agent.actor.params)
    actor = agent.actor.apply_gradients(grads=grads)
    target = polyak(critic.params, agent.target_critic_params, agent.tau)
    return agent.replace(critic=critic, actor=actor, target_critic_params=target,
                         rng=rng), {**c_info, **a_info}


update_n = fused.fuse(update)
jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


def create(seed, obs_dim: int, act_dim: int, obs_mean, obs_std, config: Dict[str, Any]
           ) -> IQLearnAgent:
    cfg = dict(config)
    for field, allowed in (("value_loss", VALUE_LOSSES), ("chi2_rows", CHI2_ROWS),
                           ("actor_states", ACTOR_STATES)):
        if cfg[field] not in allowed:
            raise ValueError(f"--config.{field}={cfg[field]!r}: expected one of {allowed}.")
    hidden = tuple(cfg["hidden_dims"])
    rng = jax.random.PRNGKey(seed)
    rng, critic_key, actor_key = jax.random.split(rng, 3)
    s, a = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    critic_def = networks.StateActionValue(hidden, "orthogonal")
    actor_def = networks.ImitationActor(hidden, act_dim, "tanh", None, "orthogonal")
    critic_params = critic_def.init(critic_key, s, a)["params"]
    return IQLearnAgent(
        critic=TrainState.create(apply_fn=critic_def.apply, params=critic_params,
                                 tx=optax.adam(cfg["critic_lr"])),
        target_critic_params=jax.tree_util.tree_map(jnp.array, critic_params),
        actor=TrainState.create(apply_fn=actor_def.apply,
                                params=actor_def.init(actor_key, s)["params"],
                                tx=optax.adam(cfg["actor_lr"])),
        obs_mean=jnp.asarray(obs_mean), obs_std=jnp.asarray(obs_std), rng=rng,
        discount=float(cfg["discount"]), temperature=float(cfg["temperature"]),
        tau=float(cfg["tau"]), value_loss=cfg["value_loss"], chi2_rows=cfg["chi2_rows"],
        chi2_weight=float(cfg["chi2_weight"]), actor_states=cfg["actor_states"], absorbing=False)
