"""Reward labellers: a labeller turns a dataset (+ chosen experts) into one reward per transition.

The seam is `labellers.py` (LabelRequest -> Labels, registered by name: true,
clue, otr); the learner only ever sees the relabelled dataset. CLUE's parts:
clue.py (CVAE losses, calibrated learner), labelling.py (Eq. 6), clue_labeller.py
(its stages), storage.py (reward files, CVAE checkpoints), plots.py. OTR: otr.py.
processing.py: the one reward post-processing (scale, shift).
"""

from clue_jax.rewards.clue import (CLUEState, CVAEModel, calibration_loss, clue_loss,
                                   create_clue_state, cvae_update, jit_cvae_update, kl_loss,
                                   reconstruction_loss, state_normalization, train_cvae)
from clue_jax.rewards.labelling import (encode_dataset, expert_embedding, label_rewards,
                                        relabel_dataset)
from clue_jax.rewards.processing import postprocess_rewards
from clue_jax.rewards.storage import (RewardFileError, dataset_checksum, load_rewards,
                                      restore_cvae, save_cvae, save_rewards)
