"""IQL hyperparameters for Kitchen and Adroit (pen, door, hammer, relocate).

Values from ikostrikov/implicit_q_learning configs/kitchen_config.py.
"""

from configs import iql_base


def get_config():
    return iql_base.get_config(expectile=0.7, temperature=0.5, dropout_rate=0.1)
