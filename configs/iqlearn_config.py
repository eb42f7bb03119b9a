"""IQ-Learn hyperparameters (Div99/IQ-Learn, MuJoCo recipe; ../shared/reference/baselines.md §8).

    python train_dice.py --algo=iqlearn --config=configs/iqlearn_config.py --config.value_loss=value

Single Q and actor (256, 256) ReLU, orthogonal init; critic Adam 3e-4, actor Adam
3e-5 (run_mujoco.sh); fixed temperature 0.01; Polyak 0.005 every step;
value_loss 'v0' with the chi-square term on every row (regularize=True): the
recommended Hopper / Walker2d command; HalfCheetah's is value_loss='value', which
get_config gives for a halfcheetah name (a run passes its dataset name; on the command
line `--config=configs/iqlearn_config.py:halfcheetah`). The
code's offline recipe is value_loss='value_expert', chi2_rows='expert',
actor_states='expert'). No state standardisation. Batch 256 of each source.
"""

import ml_collections


def get_config(env_name: str = "") -> ml_collections.ConfigDict:
    """The recommended command's config for `env_name` (HalfCheetah: value_loss 'value')."""
    config = ml_collections.ConfigDict()
    config.hidden_dims = (256, 256)
    config.critic_lr = 3e-4
    config.actor_lr = 3e-5
    config.discount = 0.99
    config.temperature = 0.01
    config.tau = 0.005
    config.value_loss = "value" if "halfcheetah" in env_name.lower() else "v0"
    config.chi2_rows = "all"
    config.chi2_weight = 0.5
    config.actor_states = "all"
    return config
