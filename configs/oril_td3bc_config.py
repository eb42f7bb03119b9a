"""ORIL's learner as SMODICE's script sets it up (oril_pytorch.py, run_oil_observations.py;
../shared/reference/baselines.md §4).

    python train_td3bc.py --agent=oril --labeller=oril --setting=imitation --num_expert=1

TD3+BC (configs/td3bc_config.py's values) on the expert block and the dataset with
absorbing states (an indicator dimension; an absorbing row after each terminal),
states standardised over those real states with std + 1e-10 (SMODICE's pipeline, not
TD3+BC's + 1e-3). Batch 512 is the loop's default for this learner; the expert block
(200 trajectories, 100 on walker2d) is --expert_block's default for it.
"""

import ml_collections

from configs import td3bc_config


def get_config() -> ml_collections.ConfigDict:
    config = td3bc_config.get_config()
    config.absorbing = True
    config.normalize_eps = 1e-10
    return config
