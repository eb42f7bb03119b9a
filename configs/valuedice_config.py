"""ValueDICE hyperparameters (google-research/value_dice; ../shared/reference/baselines.md §7).

    python train_dice.py --algo=valuedice --config=configs/valuedice_config.py

nu and actor (256, 256) ReLU, orthogonal init, nu output without bias; nu Adam
1e-3, actor Adam 1e-5; replay regularisation 0.1 (the training script's flag);
nu gradient penalty 10; actor orthogonal regularisation 1e-4; log-std
-5 + 3.5 (tanh(raw) + 1); absorbing states on, their actions zeros on the
demonstrations and uniform random on the union (the code's expert and replay data;
`absorbing_actions='terminal'`: the terminal's action); states standardised with the
expert data's mean and std (+ 1e-3). Batch 256 (--batch_size).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.nu_lr = 1e-3
    config.actor_lr = 1e-5
    config.discount = 0.99
    config.replay_regularization = 0.1
    config.nu_gp_weight = 10.0
    config.orthogonal_weight = 1e-4
    config.absorbing = True
    config.absorbing_actions = "zeros_random"
    config.normalize_eps = 1e-3
    return config
