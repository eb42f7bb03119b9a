"""SAC actor snapshots: small msgpack files of a TanhGaussianPolicy and what made it.

`train_sac.py` writes one (`actor_<step>.msgpack`) at every evaluation;
`select_policies.py` copies the chosen ones to clue_jax/policies/<env>/; the
dataset generators load them with `load_actor` and act with `batched_policy`.
A file holds {'params': actor params, 'meta': {format, obs_dim, act_dim,
hidden_dims, log_std_min, log_std_max, env, step, return, ...}}.
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import checkpoints, networks
from clue_jax.evaluation import JaxPolicy
from clue_jax.types import Params

FORMAT = "clue_jax-sac-actor-v1"


@dataclasses.dataclass(frozen=True)
class Actor:
    """A loaded actor: the flax module, its params and the snapshot's metadata."""

    module: networks.TanhGaussianPolicy
    params: Params
    meta: Dict[str, Any]


def save_actor(path, params: Params, obs_dim: int, act_dim: int, hidden_dims, **meta) -> None:
    """Write an actor snapshot atomically; `meta` adds e.g. env, step, return."""
    module = networks.TanhGaussianPolicy(tuple(hidden_dims), act_dim)
    info = {"format": FORMAT, "obs_dim": int(obs_dim), "act_dim": int(act_dim),
            "hidden_dims": np.asarray(hidden_dims, np.int64),
            "log_std_min": float(module.log_std_min), "log_std_max": float(module.log_std_max)}
    info.update({k: v for k, v in meta.items() if v is not None})
    checkpoints.save(path, {"params": jax.device_get(params), "meta": info})


def load_actor(path) -> Actor:
    """Read a snapshot written by `save_actor`.

    Raises:
        FileNotFoundError / ValueError: missing or unreadable file (from checkpoints.load_raw),
            or a file that is not an actor snapshot.
    """
    raw = checkpoints.load_raw(path)
    meta = raw.get("meta", {}) if isinstance(raw, dict) else {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a SAC actor snapshot (format {meta.get('format')!r}, "
                         f"expected {FORMAT!r}); pass an actor_<step>.msgpack from train_sac.py.")
    module = networks.TanhGaussianPolicy(tuple(int(h) for h in meta["hidden_dims"]),
                                         int(meta["act_dim"]), float(meta["log_std_min"]),
                                         float(meta["log_std_max"]))
    return Actor(module, jax.tree_util.tree_map(jnp.asarray, raw["params"]), dict(meta))


def random_actor(seed: int, obs_dim: int, act_dim: int, hidden_dims=(256, 256)) -> Actor:
    """A freshly initialised actor (D4RL's 'random' datasets come from such a policy)."""
    module = networks.TanhGaussianPolicy(tuple(hidden_dims), act_dim)
    params = module.init(jax.random.PRNGKey(seed), jnp.zeros((1, obs_dim)))["params"]
    return Actor(module, params, {"format": FORMAT, "obs_dim": obs_dim, "act_dim": act_dim,
                                  "hidden_dims": np.asarray(hidden_dims), "init_seed": seed})


def batched_policy(actor: Actor) -> Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray,
                                                                               np.ndarray]]:
    """(obs (B, obs_dim), noise (B, act_dim)) -> (actions (B, act_dim), log_probs (B,)), numpy.

    Stochastic: a = tanh(mean + std * noise) with the caller's standard normal
    noise; pass zeros for noise-free actions (their log-prob is still returned).
    One jitted call per batch.
    """
    def policy(observations: np.ndarray, noise: np.ndarray):
        actions, log_probs = _act(actor.module, actor.params,
                                  jnp.asarray(observations, jnp.float32),
                                  jnp.asarray(noise, jnp.float32))
        return np.asarray(actions), np.asarray(log_probs)
    return policy


@functools.partial(jax.jit, static_argnums=0)
def _act(module, params, observations, noise):
    """Compiled once per module definition (flax modules hash by their fields)."""
    means, log_stds = module.apply({"params": params}, observations)
    return networks.sample_tanh_gaussian(means, log_stds, noise)


def deterministic_policy(actor: Actor) -> Callable[[np.ndarray], np.ndarray]:
    """obs (B, obs_dim) -> tanh(mean) (B, act_dim), numpy (for evaluation)."""
    policy = batched_policy(actor)
    return lambda obs: policy(obs, np.zeros((len(obs), int(actor.module.action_dim))))[0]


def jax_policy(actor: Actor) -> JaxPolicy:
    """The deterministic tanh(mean) policy as an evaluation.JaxPolicy (host or device backend)."""
    return JaxPolicy(_mean_action(actor.module), actor.params)


@functools.lru_cache(maxsize=None)
def _mean_action(module) -> Callable:
    def fn(params, observations):
        means, _ = module.apply({"params": params}, observations)
        return jnp.tanh(means)
    return fn
