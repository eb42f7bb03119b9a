"""ORIL labeller hyperparameters (SMODICE's ORIL; ../shared/reference/baselines.md §4-5).

    --oril_config=configs/oril_config.py   (then --oril_config.<field>=...)

From the code: state-only discriminator 256-256 tanh, BCE + gradient penalty 10,
Adam 3e-4, batch 256, 1000 iterations over the expert data, first layer left at
its random init, states standardised over dataset + expert (std + 1e-10), the
absorbing indicator in its input (absorbing rows of the learner's data scored too),
reward = the logit, unscaled. The same for every domain (the code has one configuration).
"""

import ml_collections


def get_config(domain: str = "locomotion") -> ml_collections.ConfigDict:
    del domain  # one configuration for every domain
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.learning_rate = 3e-4
    config.batch_size = 256
    config.iterations = 1000
    config.gp_weight = 10.0
    config.state_only = True
    config.train_first_layer = False
    config.normalize_eps = 1e-10
    config.absorbing = True
    config.reward_scaling = "none"
    config.reward_shift = 0.0
    return config
