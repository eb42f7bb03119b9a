"""IQL hyperparameters for AntMaze (and the project's generated point-maze data).

Values from ikostrikov/implicit_q_learning configs/antmaze_config.py.
"""

from configs import iql_base


def get_config():
    return iql_base.get_config(expectile=0.9, temperature=10.0, dropout_rate=None)
