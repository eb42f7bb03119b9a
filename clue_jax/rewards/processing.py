"""Reward post-processing for the learner: one function for every labeller and domain.

    r <- r * scale + shift,  scale = 1000 / (max_return - min_return) over the
    dataset's trajectories ('return_range', the reference IQL's `normalize`) or 1 ('none').

The per-domain choice (AntMaze's r - 1, locomotion's return-range scaling, OTR's
bias -2, ...) lives in the labellers' configs and clue_jax.experiments.domains.
"""

import numpy as np

from clue_jax import rules
from clue_jax.data.dataset import return_range_scale

REWARD_SCALINGS = ("none", "return_range")
# every labeller config's post-processing fields (clue_jax.rules)
REWARD_RULES = {"reward_scaling": rules.one_of(REWARD_SCALINGS), "reward_shift": rules.finite()}


def postprocess_rewards(rewards: np.ndarray, dones_float: np.ndarray, scaling: str,
                        shift: float) -> np.ndarray:
    """Rescale then shift per-transition rewards.

    Args:
        rewards: (N,) rewards as labelled. dones_float: (N,) trajectory ends
            (reference IQL boundaries) over which returns are summed.
        scaling: 'return_range' or 'none'. shift: added after scaling.
    Returns:
        (N,) float32.
    """
    rewards = np.asarray(rewards, np.float32)
    if scaling == "return_range":
        rewards = rewards * np.float32(return_range_scale(rewards, dones_float))
    elif scaling != "none":
        raise ValueError(f"reward_scaling={scaling!r}: expected one of {REWARD_SCALINGS}.")
    return (rewards + np.float32(shift)).astype(np.float32)
