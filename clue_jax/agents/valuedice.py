"""ValueDICE (Kostrikov et al., ICLR 2020), faithful to google-research/value_dice (baselines.md §7).

The official code is online: its replay-regularisation buffer holds the
learner's own transitions. Here the offline data take that buffer's place:
every update draws B expert rows (s_E, a_E, s'_E) and B rows of the union of
dataset and demonstrations (s_R, a_R, s'_R) (a DemoData batch; the expert
states double as initial states, as in the code). With rr = replay_regularization
(0.1) and a' ~ pi(s') reparameterised:

    d_E = nu(s_E, a_E) - discount * nu(s'_E, a'_E),  d_R = nu(s_R, a_R) - discount * nu(s'_R, a'_R)
    J   = log sum_i w_i exp(d_i)  over {d_E, d_R},  w = (1 - rr) / B on expert rows, rr / B on R rows
          - [(1 - rr)(1 - discount) E[nu(s_E, pi(s_E))] + rr E[d_R]]
    nu minimises J + 10 E[(||grad nu(x^) + eps|| - 1)^2], x^ = u (s_E, a_E) + (1 - u)(s_R, a_R) and,
        with the same u, u (s'_E, a'_E) + (1 - u)(s'_R, a'_R)
    pi minimises -J + 1e-4 * sum over actor kernels of sum_{i != j} (W^T W)_ij^2

Both gradients from one forward pass, applied together (nu Adam 1e-3, actor
Adam 1e-5). No terminal mask (bootstrapping is always on) and no target nets:
terminals are handled by absorbing states (data.add_absorbing_states). States
standardised with the expert data's mean and std (+ 1e-3). J's gradient equals
the code's sum of sg(weighted softmax(d)) * d; the value reported is the true J.
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


class ValueDICEAgent(flax.struct.PyTreeNode):
    """ValueDICE learner state: nu(s, a), actor, state statistics."""

    nu: TrainState
    actor: TrainState
    obs_mean: jax.Array
    obs_std: jax.Array
    rng: PRNGKey
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    replay_regularization: float = flax.struct.field(pytree_node=False, default=0.1)
    nu_gp_weight: float = flax.struct.field(pytree_node=False, default=10.0)
    orthogonal_weight: float = flax.struct.field(pytree_node=False, default=1e-4)
    absorbing: bool = flax.struct.field(pytree_node=False, default=True)


def objective(nu_params: Params, nu_fn, s_e, a_e, s_next_e, a_next_e, a0, s_r, a_r, s_next_r,
              a_next_r, discount: float, rr: float) -> Tuple[jax.Array, InfoDict]:
    """ValueDICE's J (scalar); every action argument is already sampled."""
    nu = lambda s, a: nu_fn({"params": nu_params}, s, a)  # noqa: E731
    d_e = nu(s_e, a_e) - discount * nu(s_next_e, a_next_e)
    d_r = nu(s_r, a_r) - discount * nu(s_next_r, a_next_r)
    b = d_e.shape[0]
    weights = jnp.concatenate([jnp.full(b, (1.0 - rr) / b), jnp.full(d_r.shape[0], rr / d_r.shape[0])])
    log_term = jax.nn.logsumexp(jnp.concatenate([d_e, d_r]), b=weights)
    linear = (1.0 - rr) * (1.0 - discount) * nu(s_e, a0).mean() + rr * d_r.mean()
    j = log_term - linear
    return j, {"objective": j, "log_term": log_term, "linear_term": linear}


def update(agent: ValueDICEAgent, batch: DemoData) -> Tuple[ValueDICEAgent, InfoDict]:
    norm = lambda x: imitation.standardize(x, agent.obs_mean, agent.obs_std)  # noqa: E731
    expert, union = batch.expert, batch.union
    s_e, s_next_e = norm(expert.observations), norm(expert.next_observations)
    s_r, s_next_r = norm(union.observations), norm(union.next_observations)
    rng, k_e, k_r, k_0, k_u = jax.random.split(agent.rng, 5)
    obs_dim = s_e.shape[-1]

    def sample(actor_params, s, key):
        return imitation.sample_actions(agent.actor.apply_fn, actor_params, s, key)[0]

    u = jax.random.uniform(k_u, (s_e.shape[0], 1))

    def losses(nu_params, actor_params):
        """nu's loss + the actor's loss; each network's gradient comes from its own loss only."""
        sg = jax.lax.stop_gradient
        a_next_e, a_next_r = sample(actor_params, s_next_e, k_e), sample(actor_params, s_next_r, k_r)
        a0 = sample(actor_params, s_e, k_0)
        j_args = (s_e, expert.actions, s_next_e, a_next_e, a0, s_r, union.actions, s_next_r,
                  a_next_r, agent.discount, agent.replay_regularization)
        j_nu, info = objective(nu_params, agent.nu.apply_fn, *jax.tree_util.tree_map(sg, j_args[:9]),
                               *j_args[9:])
        j_actor, _ = objective(sg(nu_params), agent.nu.apply_fn, *j_args)
        x_hat = sg(jnp.concatenate([
            u * jnp.concatenate([s_e, expert.actions], -1)
            + (1 - u) * jnp.concatenate([s_r, union.actions], -1),
            u * jnp.concatenate([s_next_e, a_next_e], -1)
            + (1 - u) * jnp.concatenate([s_next_r, a_next_r], -1)]))
        nu_x = lambda x: agent.nu.apply_fn({"params": nu_params},  # noqa: E731
                                           x[:, :obs_dim], x[:, obs_dim:])
        penalty = imitation.gradient_penalty(nu_x, x_hat, imitation.F32_EPS)
        ortho = imitation.orthogonal_penalty(actor_params)
        total = (j_nu + agent.nu_gp_weight * penalty) + (-j_actor + agent.orthogonal_weight * ortho)
        return total, {**info, "nu_penalty": penalty, "orthogonal": ortho}

    (nu_grads, actor_grads), info = jax.grad(losses, argnums=(0, 1), has_aux=True)(
        agent.nu.params, agent.actor.params)
    return agent.replace(nu=agent.nu.apply_gradients(grads=nu_grads),
                         actor=agent.actor.apply_gradients(grads=actor_grads), rng=rng), info


update_n = fused.fuse(update)
jit_update = jax.jit(update)
jit_update_n = fused.jit_fused(update_n)


def create(seed, obs_dim: int, act_dim: int, obs_mean, obs_std, config: Dict[str, Any]
           ) -> ValueDICEAgent:
    cfg = dict(config)
    hidden = tuple(cfg["hidden_dims"])
    rng = jax.random.PRNGKey(seed)
    rng, nu_key, actor_key = jax.random.split(rng, 3)
    s, a = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    nu_def = networks.StateActionValue(hidden, "orthogonal", output_bias=False)
    actor_def = networks.ImitationActor(hidden, act_dim, "tanh", None, "orthogonal")
    return ValueDICEAgent(
        nu=TrainState.create(apply_fn=nu_def.apply, params=nu_def.init(nu_key, s, a)["params"],
                             tx=optax.adam(cfg["nu_lr"])),
        actor=TrainState.create(apply_fn=actor_def.apply,
                                params=actor_def.init(actor_key, s)["params"],
                                tx=optax.adam(cfg["actor_lr"])),
        obs_mean=jnp.asarray(obs_mean), obs_std=jnp.asarray(obs_std), rng=rng,
        discount=float(cfg["discount"]), replay_regularization=float(cfg["replay_regularization"]),
        nu_gp_weight=float(cfg["nu_gp_weight"]), orthogonal_weight=float(cfg["orthogonal_weight"]),
        absorbing=bool(cfg["absorbing"]))
