"""IQL hyperparameters for MuJoCo locomotion (hopper, halfcheetah, walker2d, ant).

Values from ikostrikov/implicit_q_learning configs/mujoco_config.py.
"""

from configs import iql_base


def get_config():
    return iql_base.get_config(expectile=0.7, temperature=3.0, dropout_rate=None)
