"""Array aliases and the one transition batch type shared by every learner."""

from typing import Any, Dict, NamedTuple

import jax

PRNGKey = jax.Array
Params = Dict[str, Any]
InfoDict = Dict[str, jax.Array]


class Batch(NamedTuple):
    """A batch of transitions (s, a, r, mask, s').

    Shapes: observations (B, obs_dim), actions (B, act_dim), rewards (B,),
    masks (B,) with mask = 1 - terminal (timeouts are not terminal),
    next_observations (B, obs_dim). All float32.
    """

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    masks: jax.Array
    next_observations: jax.Array
