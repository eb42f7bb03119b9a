"""Reward labellers: turn a Dataset into a relabelled Dataset (CLUE here).

Public CLUE API (plots live in clue_jax.rewards.plots, imported on demand):
    create_clue_state, train_cvae, cvae_update  (clue.py)
    expert_embedding, label_rewards, postprocess_rewards, relabel_dataset  (labelling.py)
    save_rewards, load_rewards, save_cvae, restore_cvae  (storage.py)
"""

from clue_jax.rewards.clue import (CLUEState, CVAEModel, calibration_loss, clue_loss,
                                   create_clue_state, cvae_update, jit_cvae_update, kl_loss,
                                   reconstruction_loss, state_normalization, train_cvae)
from clue_jax.rewards.labelling import (encode_dataset, expert_embedding, label_rewards,
                                        postprocess_rewards, relabel_dataset)
from clue_jax.rewards.storage import (RewardFileError, dataset_checksum, load_rewards,
                                      restore_cvae, save_cvae, save_rewards)
