"""CLUE's calibrated CVAE (paper Sec. 4.1, Eq. 4-7): losses and the learner.

The CVAE models p(a | s) over the mixed data D^e ∪ D with a N(0, I) prior
(Eq. 4-5, SPOT's CVAE), and the calibration term (Eq. 7) pulls the expert
embeddings to one point so that Eq. 6 can measure rewards in latent space.

Which transitions each term sees (config `vae_data`):
  'union'  (default): the VAE loss (recon + beta * KL) is taken over a batch
           drawn uniformly from the union D ∪ D^e (Eq. 4: "for each sample in
           D^e ∪ D"); the calibration term over a separate expert batch of the
           same size. In the sparse-reward setting D^e ⊂ D, so expert rows are
           drawn about twice as often as the rest.
  'concat': the VAE loss over concat(batch of D, batch of D^e) (half expert),
           calibration over the expert half of the same forward pass.

States are normalised per dimension as SPOT does, (s - mean) / (std + 1e-3)
over the unlabelled dataset, except on AntMaze-like data (config
`normalize_states`); the statistics live in the model and every encode/decode
applies them, so callers always pass raw observations.

The learner is an immutable pytree: `cvae_update(state, vae_batch,
expert_batch) -> (state, info)` is pure and `train_cvae` fuses `num_steps` of
it in one jitted `lax.scan` with batches drawn from device-resident data.
"""

import functools
from typing import Tuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from clue_jax import networks, rules
from clue_jax.data.dataset import Dataset, sample_batch, sample_rows
from clue_jax.rewards.processing import REWARD_RULES
from clue_jax.types import Batch, InfoDict, Params, PRNGKey

VAE_DATA_MODES = ("union", "concat")
CALIB_REDUCTIONS = ("sum", "mean")
# configs/clue_config.py's fields that can be wrong, checked before any run folder exists
CONFIG_RULES = {**REWARD_RULES, "vae_data": rules.one_of(VAE_DATA_MODES),
                "calib_reduction": rules.one_of(CALIB_REDUCTIONS),
                "temperature": rules.positive(), "learning_rate": rules.positive(),
                "batch_size": rules.positive(), "num_steps": rules.positive(),
                "latent_dim": rules.non_negative(), "beta": rules.non_negative(),
                "calib_weight": rules.non_negative(), "max_action": rules.positive(),
                "normalize_eps": rules.non_negative(), "label_chunk_size": rules.positive(),
                "hidden_dims": rules.sizes(), "num_experts": rules.positive(),
                **{flag: rules.boolean() for flag in ("calibrate", "compare_uncalibrated",
                                                      "normalize_states", "use_mean")}}
NORMALIZE_EPS = 1e-3  # SPOT: std + 1e-3


# ----------------------------------------------------------------------------- losses


def kl_loss(mean: jax.Array, log_std: jax.Array) -> Tuple[jax.Array, InfoDict]:
    """KL(N(mean, std^2) || N(0, I)) with SPOT's reduction.

    Per latent element: -0.5 * (1 + 2 log_std - mean^2 - std^2); the loss is the
    MEAN over batch and latent dims, i.e. the per-sample KL (a sum over dims)
    divided by latent_dim and averaged over the batch.

    Args:
        mean, log_std: (B, L).
    """
    kl = -0.5 * (1.0 + 2.0 * log_std - mean**2 - jnp.exp(2.0 * log_std))
    loss = kl.mean()
    return loss, {"kl_loss": loss}


def calibration_loss(mean: jax.Array, log_std: jax.Array, reduction: str = "sum"
                     ) -> Tuple[jax.Array, InfoDict]:
    """Eq. 7: E_{D^e}[||mu||^2 + ||sigma||^2], mean over the batch.

    Args:
        mean, log_std: (B_e, L) encoder outputs on expert transitions.
        reduction: over latent dims, 'sum' (Eq. 7's squared norms) or 'mean' (like
            `kl_loss`, i.e. the sum / L: the weight then compares with beta on equal terms).
    """
    if reduction not in CALIB_REDUCTIONS:
        raise ValueError(f"calibration reduction {reduction!r}: expected one of "
                         f"{CALIB_REDUCTIONS}.")
    per_element = mean**2 + jnp.exp(2.0 * log_std)
    loss = (per_element.sum(-1) if reduction == "sum" else per_element.mean(-1)).mean()
    return loss, {"calibration_loss": loss}


def reconstruction_loss(reconstruction: jax.Array, actions: jax.Array
                        ) -> Tuple[jax.Array, InfoDict]:
    """SPOT's reconstruction term: mean squared error over batch and action dims.

    Args:
        reconstruction, actions: (B, act_dim).
    """
    loss = jnp.mean((reconstruction - actions) ** 2)
    return loss, {"recon_loss": loss}


# ----------------------------------------------------------------------------- model


def state_normalization(observations: np.ndarray, enabled: bool, eps: float = NORMALIZE_EPS
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-dimension (mean, std + eps), each (obs_dim,); (0, 1) when not `enabled`."""
    observations = np.asarray(observations, np.float32)
    if not enabled:
        dim = observations.shape[1]
        return np.zeros(dim, np.float32), np.ones(dim, np.float32)
    return (observations.mean(0).astype(np.float32),
            (observations.std(0) + eps).astype(np.float32))


class CVAEModel(flax.struct.PyTreeNode):
    """A trained (or training) CVAE with its state normalisation: all labelling needs.

    Attributes:
        params: flax params of `networks.CVAE`.
        obs_mean, obs_std: (obs_dim,) state normalisation.
    """

    params: Params
    obs_mean: jax.Array
    obs_std: jax.Array
    hidden_dims: Tuple[int, ...] = flax.struct.field(pytree_node=False, default=(750, 750))
    action_dim: int = flax.struct.field(pytree_node=False, default=1)
    latent_dim: int = flax.struct.field(pytree_node=False, default=2)
    max_action: float = flax.struct.field(pytree_node=False, default=1.0)

    @property
    def module(self) -> networks.CVAE:
        return networks.CVAE(self.hidden_dims, self.action_dim, self.latent_dim, self.max_action)

    @property
    def obs_dim(self) -> int:
        return int(self.obs_mean.shape[-1])

    def encode(self, observations: jax.Array, actions: jax.Array) -> Tuple[jax.Array, jax.Array]:
        """q(z | s, a) on raw states: (B, obs_dim), (B, act_dim) -> mean, log_std (B, L)."""
        obs = (observations - self.obs_mean) / self.obs_std
        return self.module.apply({"params": self.params}, obs, actions, method="encode")

    def decode(self, observations: jax.Array, z: jax.Array) -> jax.Array:
        """p(a | z, s) on raw states: (B, obs_dim), (B, L) -> (B, act_dim)."""
        obs = (observations - self.obs_mean) / self.obs_std
        return self.module.apply({"params": self.params}, obs, z, method="decode")


class CLUEState(flax.struct.PyTreeNode):
    """CVAE learner: TrainState (params, Adam state, step), normalisation and rng."""

    train_state: TrainState
    obs_mean: jax.Array
    obs_std: jax.Array
    rng: PRNGKey
    hidden_dims: Tuple[int, ...] = flax.struct.field(pytree_node=False, default=(750, 750))
    action_dim: int = flax.struct.field(pytree_node=False, default=1)
    latent_dim: int = flax.struct.field(pytree_node=False, default=2)
    max_action: float = flax.struct.field(pytree_node=False, default=1.0)
    beta: float = flax.struct.field(pytree_node=False, default=0.5)
    calib_weight: float = flax.struct.field(pytree_node=False, default=0.0)
    vae_data: str = flax.struct.field(pytree_node=False, default="union")
    calib_reduction: str = flax.struct.field(pytree_node=False, default="sum")
    batch_size: int = flax.struct.field(pytree_node=False, default=256)

    @property
    def step(self) -> jax.Array:
        return self.train_state.step

    @property
    def model(self) -> CVAEModel:
        return CVAEModel(params=self.train_state.params, obs_mean=self.obs_mean,
                         obs_std=self.obs_std, hidden_dims=self.hidden_dims,
                         action_dim=self.action_dim, latent_dim=self.latent_dim,
                         max_action=self.max_action)


@functools.partial(jax.jit, static_argnums=0)
def _init_params(module: networks.CVAE, key, observations, actions, sample_key) -> Params:
    return module.init(key, observations, actions, sample_key)["params"]


def create_clue_state(config, dataset: Dataset, seed: int) -> CLUEState:
    """A fresh learner for `dataset`'s shapes from a `configs/clue_config.py` config.

    Normalisation statistics come from `dataset` (the unlabelled data) when
    `config.normalize_states`; latent_dim 0 means 2 * act_dim (SPOT).
    Key use: PRNGKey(seed) -> (rng, init, init-sample).
    """
    problems = rules.problems(config, CONFIG_RULES)
    if problems:
        raise ValueError(f"clue config {problems[0]}.")
    reduction = str(config.get("calib_reduction", "sum"))
    act_dim = dataset.act_dim
    latent_dim = int(config.latent_dim) or 2 * act_dim
    hidden_dims = tuple(int(h) for h in config.hidden_dims)
    module = networks.CVAE(hidden_dims, act_dim, latent_dim, float(config.max_action))
    rng, init_key, sample_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = _init_params(module, init_key, jnp.zeros((1, dataset.obs_dim)),
                          jnp.zeros((1, act_dim)), sample_key)
    mean, std = state_normalization(dataset.observations, bool(config.normalize_states),
                                    float(config.normalize_eps))
    train_state = TrainState.create(apply_fn=module.apply, params=params,
                                    tx=optax.adam(float(config.learning_rate)))
    return CLUEState(
        # an int32 array step, so a trained state jits like a fresh one (no retrace)
        train_state=train_state.replace(step=jnp.zeros((), jnp.int32)),
        obs_mean=jnp.asarray(mean), obs_std=jnp.asarray(std), rng=rng,
        hidden_dims=hidden_dims, action_dim=act_dim, latent_dim=latent_dim,
        max_action=float(config.max_action), beta=float(config.beta),
        calib_weight=float(config.calib_weight) if config.calibrate else 0.0,
        vae_data=str(config.vae_data), calib_reduction=reduction,
        batch_size=int(config.batch_size))


# ----------------------------------------------------------------------------- update


def clue_loss(model: CVAEModel, vae_batch: Batch, expert_batch: Batch, key: PRNGKey, *,
              beta: float, calib_weight: float, vae_data: str = "union",
              calib_reduction: str = "sum") -> Tuple[jax.Array, InfoDict]:
    """recon + beta * KL (Eq. 5, negated) + calib_weight * L_calibr (Eq. 7).

    With calib_weight == 0 the calibration term is not part of the loss at all
    (it is still reported, under stop_gradient). One encoder pass serves both
    batches; see the module docstring for `vae_data`.

    Args:
        vae_batch: (B, ...) batch of D ∪ D^e ('union') or of D ('concat').
        expert_batch: (B_e, ...) batch of D^e.
        key: reparameterisation noise.
    """
    b = vae_batch.observations.shape[0]
    obs = jnp.concatenate([vae_batch.observations, expert_batch.observations], 0)
    act = jnp.concatenate([vae_batch.actions, expert_batch.actions], 0)
    mean, log_std = model.encode(obs, act)
    n = b if vae_data == "union" else obs.shape[0]
    z = mean[:n] + jnp.exp(log_std[:n]) * jax.random.normal(key, mean[:n].shape)
    recon, recon_info = reconstruction_loss(model.decode(obs[:n], z), act[:n])
    kl, kl_info = kl_loss(mean[:n], log_std[:n])
    calib, calib_info = calibration_loss(mean[b:], log_std[b:], calib_reduction)
    loss = recon + beta * kl
    if calib_weight > 0:
        loss = loss + calib_weight * calib
    else:
        calib_info = jax.tree_util.tree_map(jax.lax.stop_gradient, calib_info)
    info = {**recon_info, **kl_info, **calib_info, "cvae_loss": loss,
            "data_latent_norm": jnp.linalg.norm(mean[:b], axis=-1).mean(),
            "expert_latent_norm": jnp.linalg.norm(mean[b:], axis=-1).mean(),
            "expert_sigma": jnp.exp(log_std[b:]).mean(),
            "data_sigma": jnp.exp(log_std[:b]).mean()}
    return loss, info


def cvae_update(state: CLUEState, vae_batch: Batch, expert_batch: Batch
                ) -> Tuple[CLUEState, InfoDict]:
    """One Adam step on `clue_loss`; the rng advances by one split."""
    rng, key = jax.random.split(state.rng)
    model = state.model

    def loss_fn(params):
        return clue_loss(model.replace(params=params), vae_batch, expert_batch, key,
                         beta=state.beta, calib_weight=state.calib_weight,
                         vae_data=state.vae_data, calib_reduction=state.calib_reduction)

    grads, info = jax.grad(loss_fn, has_aux=True)(state.train_state.params)
    return state.replace(train_state=state.train_state.apply_gradients(grads=grads),
                         rng=rng), info


def sample_union(data: Batch, expert_data: Batch, key: PRNGKey, batch_size: int,
                 expert_count=None) -> Batch:
    """Uniform batch with replacement from the union of two device Batches (jittable).

    Index i < N picks data[i], else expert_data[i - N]; nothing is concatenated.
    `expert_count` (default: all rows) counts the expert rows in use: the rows after
    it are padding (`train_cvae_seeds`) and are never picked.
    """
    n = data.observations.shape[0]
    n_e = expert_data.observations.shape[0] if expert_count is None else expert_count
    idx = jax.random.randint(key, (batch_size,), 0, n + n_e)
    in_data = idx < n
    i_d, i_e = jnp.minimum(idx, n - 1), jnp.clip(idx - n, 0, n_e - 1)

    def pick(x, x_e):
        mask = in_data.reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.where(mask, jnp.take(x, i_d, axis=0), jnp.take(x_e, i_e, axis=0))

    return jax.tree_util.tree_map(pick, data, expert_data)


@functools.partial(jax.jit, static_argnames=("num_steps",))
def train_cvae(state: CLUEState, data: Batch, expert_data: Batch, num_steps: int,
               expert_count=None) -> Tuple[CLUEState, InfoDict]:
    """`num_steps` CVAE updates fused in one jitted lax.scan.

    Args:
        data: the unlabelled dataset D on device (`to_device(dataset)`).
        expert_data: the expert data D^e on device.
        num_steps: static; each distinct value compiles once.
        expert_count: the rows of expert_data in use (default: all); the same
            numbers as a call with only those rows.
    Returns:
        The new state and each info value averaged over the `num_steps` steps.
    """
    if expert_count is None:
        expert_count = expert_data.observations.shape[0]

    def body(state, _):
        rng, vae_key, expert_key = jax.random.split(state.rng, 3)
        if state.vae_data == "union":
            vae_batch = sample_union(data, expert_data, vae_key, state.batch_size,
                                     expert_count)
        else:
            vae_batch = sample_batch(data, vae_key, state.batch_size)
        expert_batch = sample_rows(expert_data, expert_key, state.batch_size, expert_count)
        return cvae_update(state.replace(rng=rng), vae_batch, expert_batch)

    state, infos = jax.lax.scan(body, state, None, length=num_steps)
    return state, jax.tree_util.tree_map(jnp.mean, infos)


@functools.partial(jax.jit, static_argnames=("num_steps",))
def train_cvae_seeds(states: CLUEState, data: Batch, expert_data: Batch,
                     expert_counts: jax.Array, num_steps: int) -> Tuple[CLUEState, InfoDict]:
    """`train_cvae` for S seeds as one vmapped program.

    Args:
        states: S learners stacked on a leading axis (`trees.stack_trees`).
        data: the unlabelled dataset, one copy shared by every seed.
        expert_data: (S, L, ...) each seed's experts, padded to one length L.
        expert_counts: (S,) each seed's real expert rows.
    Returns:
        The stacked states and (S,) per-seed averages of each info value; seed i's
        numbers are `train_cvae` on its own (to float rounding of vmapped products).
    """
    def one(state, experts, count):
        return train_cvae(state, data, experts, num_steps, count)

    return jax.vmap(one)(states, expert_data, expert_counts)


jit_cvae_update = jax.jit(cvae_update)
