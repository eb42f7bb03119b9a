"""IQL hyperparameters for AntMaze (and the project's generated point-maze data).

Values from ikostrikov/implicit_q_learning configs/antmaze_config.py.
"""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.actor_lr = 3e-4
    config.value_lr = 3e-4
    config.critic_lr = 3e-4
    config.hidden_dims = (256, 256)
    config.discount = 0.99
    config.expectile = 0.9  # The actual tau for expectiles.
    config.temperature = 10.0
    config.dropout_rate = None
    config.tau = 0.005  # For soft target updates.
    config.opt_decay_schedule = "cosine"
    return config
