"""K updates of any agent fused in one lax.scan, batches drawn on the device inside the scan."""

from typing import Callable, Tuple

import jax

from clue_jax.data.dataset import sample_batch
from clue_jax.types import InfoDict, PRNGKey

UpdateFn = Callable[..., Tuple[object, InfoDict]]


def fuse(update: UpdateFn) -> Callable:
    """update(agent, batch) -> (agent, info)  ==>  update_n(agent, data, key, num_steps, batch_size).

    update_n returns the new agent, the advanced data key, and the last step's info;
    each step splits the key once and samples `batch_size` rows of `data` (a device
    Batch or MixedBatch) with `sample_batch`. Jit it with num_steps and batch_size
    static (`jit_fused`).
    """

    def update_n(agent, data, key: PRNGKey, num_steps: int, batch_size: int):
        def body(carry, _):
            agent, key = carry
            key, batch_key = jax.random.split(key)
            agent, info = update(agent, sample_batch(data, batch_key, batch_size))
            return (agent, key), info

        (agent, key), infos = jax.lax.scan(body, (agent, key), None, length=num_steps)
        return agent, key, jax.tree_util.tree_map(lambda x: x[-1], infos)

    update_n.__doc__ = f"`num_steps` fused {update.__module__}.update steps (see fused.fuse)."
    return update_n


def jit_fused(update_n: Callable) -> Callable:
    """jax.jit with num_steps / batch_size static and the agent's buffers donated."""
    return jax.jit(update_n, static_argnames=("num_steps", "batch_size"), donate_argnums=(0,))
