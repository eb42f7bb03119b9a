"""CLUE intrinsic rewards (paper Eq. 6) for whole datasets.

    z_e = E_{(s,a) ~ D^e}[mu(s, a)]                  (mean of the encoder means)
    r(s, a) = exp(-c * ||z_e - z(s, a)||^2)          (Eq. 6), in (0, 1]

z(s, a) is the encoder mean by default (deterministic rewards) or a sample
mu + sigma * eps (`use_mean=False`; Eq. 6 writes z(s, a) ~ q(z | s, a), and no code
of the authors' says which they used). The two differ most where the posterior has
collapsed to the prior on the data (sigma near 1, `encoder_stats`): every mean then
sits near z_e, while a sample still tells the expert rows (sigma held down by Eq. 7)
from the rest. Very
distant points can underflow to exactly 0 in float32 (c * d^2 > ~103).

Datasets are processed in fixed-size chunks by one jitted function: the last
chunk is zero-padded, so any N compiles once per (model shapes, chunk_size).
Sampled noise is drawn per row from fold_in(key, row index), so sampled
rewards do not depend on chunk_size either (nor on which rows are labelled together:
`label_rewards(row_ids=...)`).
"""

import functools
from typing import Callable, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax.data.dataset import Dataset
from clue_jax.rewards.clue import CVAEModel
from clue_jax.rewards.processing import postprocess_rewards
from clue_jax.types import PRNGKey

DEFAULT_CHUNK = 65536


def _check_inputs(model: CVAEModel, obs: np.ndarray, act: np.ndarray, what: str
                  ) -> Tuple[np.ndarray, np.ndarray]:
    obs, act = np.asarray(obs, np.float32), np.asarray(act, np.float32)
    if (obs.ndim != 2 or act.ndim != 2 or obs.shape[0] != act.shape[0]
            or obs.shape[1] != model.obs_dim or act.shape[1] != model.action_dim):
        raise ValueError(
            f"{what}: observations {obs.shape} and actions {act.shape} do not fit the CVAE, "
            f"which expects (N, {model.obs_dim}) and (N, {model.action_dim}); label the "
            "dataset the model was trained on.")
    return obs, act


def _map_chunks(fn: Callable, obs: np.ndarray, act: np.ndarray, chunk_size: int):
    """fn(obs_chunk, act_chunk, offset) over fixed-size, zero-padded chunks; outputs concatenated.

    All chunks are dispatched before any result is read, so host slicing and
    transfers overlap device compute.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
    pending = []
    for start in range(0, obs.shape[0], chunk_size):
        o, a = obs[start:start + chunk_size], act[start:start + chunk_size]
        m = o.shape[0]
        if m < chunk_size:
            o = np.pad(o, ((0, chunk_size - m), (0, 0)))
            a = np.pad(a, ((0, chunk_size - m), (0, 0)))
        pending.append((fn(o, a, np.int32(start)), m))
    outs = [jax.tree_util.tree_map(lambda x, m=m: np.asarray(x)[:m], out) for out, m in pending]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, 0), *outs)


@jax.jit
def _encode_chunk(model: CVAEModel, obs: jax.Array, act: jax.Array, offset: jax.Array):
    del offset
    return model.encode(obs, act)


@functools.partial(jax.jit, static_argnames=("use_mean",))
def _reward_chunk(model: CVAEModel, obs: jax.Array, act: jax.Array, rows: jax.Array,
                  z_e: jax.Array, temperature: jax.Array, key: PRNGKey, use_mean: bool
                  ) -> jax.Array:
    """Eq. 6 on one chunk: (C, obs_dim), (C, act_dim), (C,) row indices -> (C,)."""
    mean, log_std = model.encode(obs, act)
    if use_mean:
        z = mean
    else:
        noise = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i),
                                                     mean.shape[-1:]))(rows)
        z = mean + jnp.exp(log_std) * noise
    return jnp.exp(-temperature * jnp.sum((z - z_e) ** 2, axis=-1))


def encode_dataset(model: CVAEModel, observations: np.ndarray, actions: np.ndarray,
                   chunk_size: int = DEFAULT_CHUNK) -> Tuple[np.ndarray, np.ndarray]:
    """Encoder (mean, log_std), each (N, L) numpy float32, in chunks."""
    obs, act = _check_inputs(model, observations, actions, "encode_dataset")
    if obs.shape[0] == 0:
        empty = np.zeros((0, model.latent_dim), np.float32)
        return empty, empty
    return _map_chunks(functools.partial(_encode_chunk, model), obs, act, chunk_size)


def expert_embedding(model: CVAEModel, expert_obs: np.ndarray, expert_act: np.ndarray,
                     chunk_size: int = DEFAULT_CHUNK) -> np.ndarray:
    """z_e of Eq. 6: the mean of the encoder means over the expert data, (L,) float32."""
    if np.shape(expert_obs)[0] == 0:
        raise ValueError("expert_embedding: the expert data is empty; select at least one "
                         "expert trajectory (see clue_jax.data.experts).")
    means, _ = encode_dataset(model, expert_obs, expert_act, chunk_size)
    return means.mean(0).astype(np.float32)


def label_rewards(model: CVAEModel, observations: np.ndarray, actions: np.ndarray,
                  z_e: np.ndarray, temperature: float, use_mean: bool = True,
                  key: Optional[PRNGKey] = None, chunk_size: int = DEFAULT_CHUNK,
                  row_ids: Optional[np.ndarray] = None) -> np.ndarray:
    """Eq. 6 intrinsic rewards exp(-c ||z_e - z(s, a)||^2) for N transitions.

    Args:
        model: a trained CVAE (`CLUEState.model`).
        observations: (N, obs_dim) raw states. actions: (N, act_dim).
        z_e: (L,) expert embedding (`expert_embedding`).
        temperature: c > 0 (a traced value: changing it does not recompile).
        use_mean: z = encoder mean (default) or a reparameterised sample.
        key: required when use_mean is False.
        chunk_size: rows per jitted call.
        row_ids: (N,) the rows' indices in their dataset, which a sampled z's noise is drawn
            from (default 0..N-1): a subset of a dataset's rows given with its indices gets
            the same rewards as those rows get when the whole dataset is labelled.
    Returns:
        (N,) float32 rewards in [0, 1] (0 only by float32 underflow).
    """
    obs, act = _check_inputs(model, observations, actions, "label_rewards")
    z_e = np.asarray(z_e, np.float32)
    if z_e.shape != (model.latent_dim,):
        raise ValueError(f"label_rewards: z_e has shape {z_e.shape}, expected "
                         f"({model.latent_dim},); compute it with expert_embedding(model, ...).")
    if not temperature > 0:
        raise ValueError(f"label_rewards: temperature c must be > 0, got {temperature}.")
    if not use_mean and key is None:
        raise ValueError("label_rewards: use_mean=False samples z and needs a PRNG key.")
    if obs.shape[0] == 0:
        return np.zeros(0, np.float32)
    ids = (np.arange(obs.shape[0]) if row_ids is None else np.asarray(row_ids)).astype(np.int32)
    if ids.shape != (obs.shape[0],):
        raise ValueError(f"label_rewards: row_ids has shape {ids.shape}, expected "
                         f"({obs.shape[0]},), one index per row.")
    key = jax.random.PRNGKey(0) if key is None else key
    fn = functools.partial(_reward_chunk, model, z_e=z_e,
                           temperature=np.float32(temperature), key=key, use_mean=use_mean)

    def chunk(o, a, start):
        rows = ids[start:start + chunk_size]
        return fn(o, a, np.pad(rows, (0, chunk_size - rows.shape[0])))

    return _map_chunks(chunk, obs, act, chunk_size).astype(np.float32)


ENCODER_STATS_ROWS = 65536  # dataset rows (evenly spaced) that `encoder_stats` encodes


def encoder_stats(model: CVAEModel, dataset: Dataset, expert: Dataset,
                  chunk_size: int = DEFAULT_CHUNK) -> Dict[str, float]:
    """How q(z | s, a) spreads: mean |mu| and mean sigma (over latent dims and rows) on the
    expert rows and on up to ENCODER_STATS_ROWS evenly spaced dataset rows. Data sigma near 1
    with |mu| near 0 is the prior itself: the posterior has collapsed, and the encoder means
    of all rows sit near z_e."""
    rows = np.arange(0, dataset.size, max(1, -(-dataset.size // ENCODER_STATS_ROWS)))
    out = {}
    for name, obs, act in (("expert", expert.observations, expert.actions),
                           ("data", dataset.observations[rows], dataset.actions[rows])):
        mean, log_std = encode_dataset(model, obs, act, chunk_size)
        out[f"{name}_latent_norm"] = float(np.linalg.norm(mean, axis=1).mean())
        out[f"{name}_sigma_mean"] = float(np.exp(log_std).mean())
    return out


def relabel_dataset(model: CVAEModel, dataset: Dataset, expert: Dataset, config,
                    key: Optional[PRNGKey] = None) -> Tuple[Dataset, Dict[str, float]]:
    """The whole labelling step: z_e, Eq. 6 rewards, post-processing, a relabelled copy.

    Args:
        config: a `configs/clue_config.py` config (temperature, use_mean,
            label_chunk_size, reward_scaling, reward_shift).
    Returns:
        (dataset with rewards replaced, summary numbers of the raw rewards and of the
        encoder (`encoder_stats`)).
    """
    z_e = expert_embedding(model, expert.observations, expert.actions, config.label_chunk_size)
    raw = label_rewards(model, dataset.observations, dataset.actions, z_e, config.temperature,
                        use_mean=config.use_mean, key=key, chunk_size=config.label_chunk_size)
    expert_raw = label_rewards(model, expert.observations, expert.actions, z_e,
                               config.temperature, use_mean=config.use_mean, key=key,
                               chunk_size=config.label_chunk_size)
    rewards = postprocess_rewards(raw, dataset.dones_float, config.reward_scaling,
                                  config.reward_shift)
    info = {"raw_reward_mean": float(raw.mean()), "raw_reward_min": float(raw.min()),
            "raw_reward_max": float(raw.max()), "raw_reward_std": float(raw.std()),
            "expert_raw_reward_mean": float(expert_raw.mean()),
            "reward_mean": float(rewards.mean()), "z_e_norm": float(np.linalg.norm(z_e)),
            **encoder_stats(model, dataset, expert, config.label_chunk_size)}
    return dataset.with_rewards(rewards), info
