"""Environments by dataset name (registry.py); importing this package registers every
name with gymnasium as 'clue_jax/<name>'."""

from clue_jax.envs import registry as _registry

_registry.list_envs()  # registers the built-in and plugin names (with gymnasium too)
