"""SAC hyperparameters for MuJoCo locomotion (train_sac.py): the usual defaults.

Agent values are `clue_jax.agents.sac.create`'s keywords (jaxrl's SAC on MuJoCo:
Adam 3e-4 for actor, critics and temperature, (256, 256), discount 0.99,
tau 0.005, initial temperature 1, target entropy -act_dim). Loop values:
batch 256, one update per env step after `start_steps` uniformly random steps
(jaxrl's start_training = 1e4), replay buffer of 1M transitions.
"""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    agent = ml_collections.ConfigDict()
    agent.hidden_dims = (256, 256)
    agent.actor_lr = 3e-4
    agent.critic_lr = 3e-4
    agent.temperature_lr = 3e-4
    agent.discount = 0.99
    agent.tau = 0.005
    agent.init_temperature = 1.0
    agent.target_entropy = None  # None: -act_dim
    config.agent = agent
    config.batch_size = 256
    config.start_steps = 10_000
    config.replay_capacity = 1_000_000
    config.log_interval = 1000
    return config
