"""The shuffled labeller's config: whose rewards to permute, and with which seed.

    --labeller=shuffled --shuffled_config.rewards_from=<grid>/clue-imitation-K1/{task}/seed_{seed}

The reward control beside the constant one: the named run's rewards (its rewards.npz, as
its learner saw them) permuted over the dataset's rows, so their level and spread stay
and which transition earns which is lost ({task} and {seed} filled per run;
clue_jax/rewards/shuffled.py). The permutation's seed is `permutation_seed`, or the run's
own seed when -1.
"""

import ml_collections


def get_config(domain: str = "locomotion") -> ml_collections.ConfigDict:
    del domain  # the same for every domain: the source run fixed its rewards' processing
    config = ml_collections.ConfigDict()
    config.rewards_from = ""  # a labelled run's folder (required)
    config.permutation_seed = -1  # -1: the run's own seed
    return config
