"""Datasets this project generates (point mazes, locomotion from shipped SAC policies).

Sits above envs/ and agents/ (generators roll out planners and SAC actors) and
below the experiment layer; data/ never imports it. `ensure_generated(name)`
makes a dataset's HDF5 file on first use and returns its path.
"""

from clue_jax.generation.generated import (GENERATED, GeneratedSpec, ensure_generated,
                                           is_generated, register_generated)

__all__ = ["GENERATED", "GeneratedSpec", "ensure_generated", "is_generated",
           "register_generated"]
