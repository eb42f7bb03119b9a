"""Checks every learner module's fused and vmapped updates must pass.

A learner module (clue_jax.agents.iql, td3bc, demodice, ...) exposes `update_n(agent, data,
key, num_steps, batch_size) -> (agent, key, info)` and `jit_update(agent, batch)`; these
helpers hold them to the contract the training loop relies on.
"""

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax.data.dataset import sample_batch


def assert_fused_equals_single(module, agent, data, num_steps: int, batch_size: int):
    """`update_n` (one lax.scan) equals `num_steps` calls of `jit_update` on the batches it
    draws, and hands back the key it split. Returns the fused call's info."""
    key = jax.random.PRNGKey(7)
    fused, fused_key, info = module.update_n(agent, data, key, num_steps=num_steps,
                                             batch_size=batch_size)
    single = agent
    for _ in range(num_steps):
        key, bkey = jax.random.split(key)
        single, _ = module.jit_update(single, sample_batch(data, bkey, batch_size))
    np.testing.assert_array_equal(fused_key, key)
    for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(single)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return info


def assert_vmapped_equals_separate(module, make: Callable[[int], object], data, seeds: int,
                                   num_steps: int, batch_size: int):
    """`update_n` vmapped over agents made by `make(seed)` (seeds 0..seeds-1, keys 100 + seed)
    gives each seed's actor as its own call does. Returns (the stacked agents, their infos)."""
    agents = jax.vmap(make)(jnp.arange(seeds))
    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(seeds) + 100)
    run = functools.partial(module.update_n, num_steps=num_steps, batch_size=batch_size)
    batched, _, infos = jax.jit(jax.vmap(run, in_axes=(0, None, 0)))(agents, data, keys)
    for i in range(seeds):
        one, _, _ = module.update_n(make(i), data, jax.random.PRNGKey(100 + i),
                                    num_steps=num_steps, batch_size=batch_size)
        for a, b in zip(jax.tree.leaves(one.actor.params),
                        jax.tree.leaves(jax.tree.map(lambda x: x[i], batched.actor.params))):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return batched, infos
