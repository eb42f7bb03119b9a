"""DemoDICE hyperparameters (KAIST-AILab/imitation-dice; ../shared/reference/baselines.md §6).

    python train_dice.py --algo=demodice --config=configs/demodice_config.py

Cost, nu and actor (256, 256) ReLU, He-normal init, cost and nu outputs without
bias; Adam 3e-4 for each; alpha 0; cost gradient penalty 0.1, nu gradient
penalty 1e-4; actor mean clipped to +-7, log-std to [-5, 2]; no absorbing
states; states standardised with the mean and std (+ 1e-3) of the imperfect set, the
union without the demonstrations (`normalize_over='union'`: with them).
Batch 512 is the loop's default for this agent (--batch_size).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.cost_lr = 3e-4
    config.nu_lr = 3e-4
    config.actor_lr = 3e-4
    config.discount = 0.99
    config.alpha = 0.0
    config.cost_gp_weight = 0.1
    config.nu_gp_weight = 1e-4
    config.mean_clip = 7.0
    config.normalize_eps = 1e-3
    config.normalize_over = "imperfect"
    return config
