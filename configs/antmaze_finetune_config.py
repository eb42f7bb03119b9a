"""IQL hyperparameters for AntMaze fine-tuning: antmaze values without the cosine schedule."""

from configs import antmaze_config


def get_config():
    config = antmaze_config.get_config()
    config.opt_decay_schedule = "none"
    return config
