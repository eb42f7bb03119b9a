"""SMODICE hyperparameters (JasonMa2016/SMODICE; ../shared/reference/baselines.md §5).

    python train_dice.py --algo=smodice --config=configs/smodice_config.py --config.f_divergence=chi2

V and actor (256, 256) ReLU, Xavier-uniform init; V Adam 3e-4 with weight decay
1e-4, actor and entropy temperature Adam 3e-4; KL divergence (the code's MuJoCo
default; chi2 is its AntMaze/Kitchen choice); actor mean clipped to +-7.24,
log-std to [-5, 2]; absorbing states on; states standardised over the union
(std + 1e-10). The discriminator is the ORIL labeller's (configs/oril_config.py).
Batch 512 is the loop's default for this agent (--batch_size).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.value_lr = 3e-4
    config.value_weight_decay = 1e-4
    config.actor_lr = 3e-4
    config.alpha_lr = 3e-4
    config.discount = 0.99
    config.f_divergence = "kl"
    config.mean_clip = 7.24
    config.log_prob_eps = 1e-6
    config.absorbing = True
    config.normalize_eps = 1e-10
    return config
