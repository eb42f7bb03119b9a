"""The constant labeller's reward: `value + reward_shift` on every row.

    --labeller=constant --constant_config.value=0.5     (AntMaze: -1 + 0.5 = -0.5 per step)
    --constant_config=configs/constant_config.py:<reward shift>
    --constant_config.level_from=<grid>/clue-imitation-K1/{task}/seed_{seed}

The control that says what a labeller adds to the data's own terminals: the same
reward on every transition, so only where trajectories end tells the goal apart.
The key after the colon is the reward shift; by default the dataset's domain's,
as the reference IQL shifts the true rewards (AntMaze and the generated point
mazes: -1, every step a cost; the others: 0). The level matters to IQL: one
reward on every row scales its advantages, so a level control compares a labeller
with the constant at that labeller's own mean reward (results/table1_antmaze).
`level_from` names that labeller's run folder ({task} and {seed} filled per run): the
reward on every row is then its mean reward as its learner saw it (shift included), and
`value` and `reward_shift` are not used (clue_jax/rewards/constant.py).
"""

import ml_collections


def get_config(reward_shift: str = "0.0") -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.value = 0.0
    config.level_from = ""  # a run folder whose mean reward is the constant ('' : value)
    try:
        config.reward_shift = float(reward_shift)
    except ValueError:
        raise ValueError(f"constant_config: the key after the colon is the reward shift, a "
                         f"number (e.g. configs/constant_config.py:-1); got {reward_shift!r}."
                         ) from None
    return config
