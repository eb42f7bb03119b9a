"""IQL hyperparameters shared by every domain (ikostrikov/implicit_q_learning configs/*.py).

Each domain file sets only what differs: expectile, temperature (beta) and actor dropout.
"""

import ml_collections


def get_config(expectile: float, temperature: float, dropout_rate=None):
    config = ml_collections.ConfigDict()
    config.actor_lr = 3e-4
    config.value_lr = 3e-4
    config.critic_lr = 3e-4
    config.hidden_dims = (256, 256)
    config.discount = 0.99
    config.expectile = expectile  # The actual tau for expectiles.
    config.temperature = temperature
    # None = no dropout (the reference's antmaze / mujoco); a typed placeholder, so that
    # --config.dropout_rate=0.2 can still set it from the command line.
    config.dropout_rate = (ml_collections.config_dict.placeholder(float) if dropout_rate is None
                           else dropout_rate)
    config.tau = 0.005  # For soft target updates.
    config.opt_decay_schedule = "cosine"  # Adam + cosine decay of the actor's learning rate
    return config
