"""clue_jax: Calibrated Latent Guidance (CLUE) on a faithful JAX port of IQL."""

__version__ = "0.1.0"
