"""Pytree helpers for S seeds' learners held as one stacked pytree (vmapped training)."""

from typing import Any, List

import jax
import jax.numpy as jnp


def stack_trees(trees: List[Any]) -> Any:
    """S pytrees of the same structure -> one with a leading axis S on every leaf.

    The first tree's static fields are kept (agents made from one config hold equal
    optimisers, but not the same Python objects)."""
    leaves = [jax.tree_util.tree_leaves(t) for t in trees]
    return jax.tree_util.tree_structure(trees[0]).unflatten(
        [jnp.stack(column) for column in zip(*leaves)])


def unstack_tree(tree: Any, index: int) -> Any:
    """Member `index` of a stacked pytree."""
    return jax.tree_util.tree_map(lambda x: x[index], tree)
