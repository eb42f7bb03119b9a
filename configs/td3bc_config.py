"""TD3+BC hyperparameters (sfujim/TD3_BC; ../shared/reference/baselines.md §2).

    python train_td3bc.py --config=configs/td3bc_config.py --config.alpha=2.5

Actor and critics (256, 256) ReLU with PyTorch's default init, Adam 3e-4, discount
0.99, tau 0.005 (delayed steps only), policy noise 0.2 clipped at 0.5, policy
delay 2, alpha 2.5, states standardised (std + 1e-3). Batch 256 and 1e6 steps are
the loop's (--batch_size, --max_steps). The reference leaves rewards untouched: the
`true` labeller does too when it feeds TD3+BC.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.actor_lr = 3e-4
    config.critic_lr = 3e-4
    config.discount = 0.99
    config.tau = 0.005
    config.alpha = 2.5
    config.policy_noise = 0.2
    config.noise_clip = 0.5
    config.policy_freq = 2
    config.max_action = 1.0
    config.normalize_states = True
    config.normalize_eps = 1e-3
    config.absorbing = False  # ORIL's set-up turns it on (configs/oril_td3bc_config.py)
    return config
