"""IQL hyperparameters for Adroit (pen, door, hammer, relocate): the reference uses kitchen's."""

from configs import kitchen_config


def get_config():
    return kitchen_config.get_config()
