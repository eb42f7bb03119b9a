"""Optimal Transport Reward labelling (OTR; Luo et al., ICLR 2023) with ott-jax.

For every offline episode x (n atoms) and every expert episode y (m atoms),
both raw observations padded with zero rows and weighted 1/T per real atom
and 0 per pad (T = `episode_length`, 1000 in OTR for every domain):

    C_ij = 1 - <x_i, y_j> / (||x_i|| ||y_j|| + 1e-8)         (cosine cost)
    P    = entropic OT coupling, epsilon absolute, log-domain Sinkhorn,
           potentials from 0, `max_iterations` (100) iterations
    c_i  = sum_j P_ij C_ij                                  (per-step cost)
    r_i  = alpha * exp(-beta_eff * c_i),  beta_eff = beta * T / d if
           `normalize_by_atom` (MuJoCo, Adroit) else beta * T (AntMaze)

Pads get reward 0; with K experts the expert whose rewards sum highest over
the episode is kept (OTR's top-1 aggregate). The post-processing (1000 /
(max - min return) then the domain's bias) is the shared
`clue_jax.rewards.processing.postprocess_rewards`.

Padding. OTR pads every sequence to T. A zero-weight pad is inert after the
first Sinkhorn half-iteration (its potential becomes -inf); only in that first
update, where every potential is 0, do the pads of the side not yet updated
add exp(-1 / epsilon) = e^-100 per pad to a log-sum-exp whose real terms are
exp(-C_ij / epsilon). `pad_to_episode_length=True` pads to T as OTR does;
the default pads each episode only to the next power of two (at least 16):
the same problem up to that e^-100 term (tests compare both with a plain
numpy Sinkhorn to 1e-5), and far cheaper when a dataset splits into many
short episodes (AntMaze-style data ends an episode at every goal-reached
step). Episodes of the same padded length are solved together, vmapped over
(episode x expert) `chunk_cells` cost entries at a time (n x m per problem):
one compilation per padded length. On a CPU a batch larger than the cache is
slower per problem (measured: 16 problems of 1024 x 1024 at once cost 5x more
each than one at a time), hence the default of one such problem per batch;
on an accelerator a larger `chunk_cells` fills the device.
"""

import functools
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import compat, interrupts, rules

from clue_jax.data.dataset import Dataset, DatasetError, trajectory_bounds
from clue_jax.rewards.processing import REWARD_RULES

MIN_PAD = 16


@functools.lru_cache(maxsize=None)
def ott_modules():
    """ott-jax's modules OTR solves with, imported on first use: ott and what it pulls in
    (scipy.stats, jaxopt, matplotlib) take about 2 s to import, which runs without OTR and
    refused inputs skip. The run checks call it before any data is read or folder made
    (the labeller's `requires`), so a JAX stack that cannot import ott fails there."""
    try:
        from ott.geometry import costs, geometry
        from ott.problems.linear import linear_problem
        from ott.solvers.linear import sinkhorn
    except (ImportError, AttributeError) as err:  # a jax / flax pair that cannot import ott
        raise compat.explain(err) from err
    return costs, geometry, linear_problem, sinkhorn
# configs/otr_config.py's fields that can be wrong, checked before any run folder exists
CONFIG_RULES = {**REWARD_RULES, "episode_length": rules.positive(),
                "epsilon": rules.positive(), "max_iterations": rules.positive(),
                "threshold": rules.positive(), "alpha": rules.finite(), "beta": rules.positive(),
                "chunk_cells": rules.positive(), "normalize_by_atom": rules.boolean(),
                "pad_to_episode_length": rules.boolean()}


def padded_length(n: int, episode_length: int, pad_to_episode_length: bool) -> int:
    """Rows an n-step sequence is padded to: T, or the next power of two >= max(n, 16) (<= T)."""
    if pad_to_episode_length:
        return episode_length
    return min(episode_length, max(MIN_PAD, 1 << (int(n) - 1).bit_length()))


def pack(observations: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int,
         episode_length: int) -> Tuple[np.ndarray, np.ndarray]:
    """Episodes [starts[e], ends[e]) as zero-padded atoms and OT weights.

    Returns:
        atoms (E, length, d) float32 and weights (E, length) float32: 1/T per
        real atom, 0 per pad.
    """
    lengths = ends - starts
    atoms = np.zeros((len(starts), length, observations.shape[1]), np.float32)
    weights = np.zeros((len(starts), length), np.float32)
    for e, (s, n) in enumerate(zip(starts, lengths)):
        atoms[e, :n] = observations[s:s + n]
        weights[e, :n] = 1.0 / episode_length
    return atoms, weights


def per_step_costs(x: jax.Array, a: jax.Array, y: jax.Array, b: jax.Array, epsilon: float,
                   max_iterations: int, threshold: float) -> jax.Array:
    """OTR's per-step transport cost c_i = sum_j P_ij C_ij for one (episode, expert) pair.

    Args:
        x: (n, d) agent atoms, a: (n,) weights; y: (m, d) expert atoms, b: (m,) weights.
    Returns:
        (n,) cost per agent atom.
    """
    costs, geometry, linear_problem, sinkhorn = ott_modules()
    cost = costs.Cosine().all_pairs(x, y)
    geom = geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
    solver = sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations)
    out = solver(linear_problem.LinearProblem(geom, a=a, b=b))
    return jnp.sum(out.matrix * cost, axis=1)


@functools.partial(jax.jit, static_argnames=("epsilon", "max_iterations", "threshold",
                                             "batch_size"))
def _label_chunk(x: jax.Array, a: jax.Array, y: jax.Array, b: jax.Array, beta_eff: jax.Array,
                 alpha: jax.Array, *, epsilon: float, max_iterations: int, threshold: float,
                 batch_size: int) -> jax.Array:
    """Squashed rewards of E episodes against K experts, best expert per episode.

    x (E, n, d), a (E, n), y (K, m, d), b (K, m) -> (E, n) rewards (0 on pads).
    The E x K transport problems run `batch_size` at a time (vmapped within a
    batch, sequential across batches), so the cost matrices in flight stay small.
    """
    E, K = x.shape[0], y.shape[0]
    solve = functools.partial(per_step_costs, epsilon=epsilon, max_iterations=max_iterations,
                              threshold=threshold)
    pairs = (jnp.repeat(jnp.arange(E), K), jnp.tile(jnp.arange(K), E))
    c = jax.lax.map(lambda ij: solve(x[ij[0]], a[ij[0]], y[ij[1]], b[ij[1]]), pairs,
                    batch_size=batch_size).reshape(E, K, -1)
    r = jnp.where(a[:, None, :] > 0, alpha * jnp.exp(-beta_eff * c), 0.0)
    best = jnp.argmax(r.sum(-1), axis=1)                              # top-1 by episode sum
    return jnp.take_along_axis(r, best[:, None, None], axis=1)[:, 0]


def problems_per_batch(n: int, m: int, cells: int) -> int:
    """Transport problems (n x m each) solved together so a batch holds about `cells` costs."""
    return max(1, cells // (n * m))


BATCHES_PER_CALL = 8


def episodes_per_call(n: int, m: int, num_experts: int, cells: int) -> int:
    """Episodes of padded length n per compiled call: up to `BATCHES_PER_CALL` batches."""
    return max(1, BATCHES_PER_CALL * problems_per_batch(n, m, cells) // num_experts)


def beta_eff(config, obs_dim: int) -> float:
    """beta * T / d with per-atom normalisation (MuJoCo, Adroit), else beta * T (AntMaze)."""
    scale = config.episode_length / (obs_dim if config.normalize_by_atom else 1)
    return float(config.beta) * scale


def _check_lengths(lengths: np.ndarray, episode_length: int, what: str) -> None:
    if lengths.size and lengths.max() > episode_length:
        raise DatasetError(
            f"OTR: the longest {what} has {int(lengths.max())} steps but OTR pads episodes to "
            f"T = {episode_length}; raise --otr_config.episode_length to at least "
            f"{int(lengths.max())}.")


def otr_rewards(dataset: Dataset, expert: Dataset, config) -> Tuple[np.ndarray, Dict[str, float]]:
    """OTR's squashed per-step rewards for every transition of `dataset`.

    Episodes are the reference IQL's trajectories (`dones_float`: split at
    observation gaps and terminals, as OTR's loader does); expert episodes are
    `expert.dones_float`'s.

    Args:
        config: a `configs/otr_config.py` config.
    Returns:
        (N,) float32 rewards in (0, alpha] before post-processing, and a summary.
    """
    if expert.obs_dim != dataset.obs_dim:
        raise DatasetError(f"OTR: expert observations have dim {expert.obs_dim} but the "
                           f"dataset's have {dataset.obs_dim}; use experts of the same env.")
    T = int(config.episode_length)
    e_starts, e_ends = trajectory_bounds(expert.dones_float)
    _check_lengths(e_ends - e_starts, T, "expert trajectory")
    m = padded_length(int((e_ends - e_starts).max()), T, config.pad_to_episode_length)
    y, b = pack(expert.observations, e_starts, e_ends, m, T)
    starts, ends = trajectory_bounds(dataset.dones_float)
    lengths = ends - starts
    _check_lengths(lengths, T, "dataset episode")
    padded = np.array([padded_length(n, T, config.pad_to_episode_length) for n in lengths])
    rewards = np.zeros(dataset.size, np.float32)
    kwargs = dict(epsilon=float(config.epsilon), max_iterations=int(config.max_iterations),
                  threshold=float(config.threshold))
    scalars = (np.float32(beta_eff(config, dataset.obs_dim)), np.float32(config.alpha))
    for n in np.unique(padded):
        group = np.flatnonzero(padded == n)
        chunk = min(len(group), episodes_per_call(int(n), m, len(e_starts),
                                                  int(config.chunk_cells)))
        batch = min(problems_per_batch(int(n), m, int(config.chunk_cells)),
                    chunk * len(e_starts))
        for i in range(0, len(group), chunk):
            interrupts.check()  # minutes on a CPU: a dropped Ctrl-C ends it here
            ids = group[i:i + chunk]
            x, a = pack(dataset.observations, starts[ids], ends[ids], int(n), T)
            if len(ids) < chunk:  # fixed chunk shape: repeat the last episode (discarded)
                x = np.pad(x, ((0, chunk - len(ids)), (0, 0), (0, 0)), mode="edge")
                a = np.pad(a, ((0, chunk - len(ids)), (0, 0)), mode="edge")
            r = np.asarray(_label_chunk(x, a, y, b, *scalars, batch_size=batch, **kwargs))
            for row, e in zip(r, ids):
                rewards[starts[e]:ends[e]] = row[:lengths[e]]
    info = {"raw_reward_mean": float(rewards.mean()), "raw_reward_min": float(rewards.min()),
            "raw_reward_max": float(rewards.max()), "episodes": int(len(starts)),
            "expert_episodes": int(len(e_starts)), "beta_eff": float(scalars[0])}
    return rewards, info
