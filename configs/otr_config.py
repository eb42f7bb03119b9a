"""OTR reward-labeller hyperparameters per domain (Luo et al. 2023; ../shared/reference/baselines.md §1).

    --otr_config=configs/otr_config.py:locomotion   (then --otr_config.<field>=...)

From OTR's code (ethanluoyc/optimal_transport_reward, configs otr_iql_{mujoco,antmaze,adroit}):
  episode_length T = 1000 for every domain; epsilon 0.01 (absolute); 100 Sinkhorn
  iterations, threshold 1e-9; exponential squash alpha * exp(-beta_eff * c) with
  alpha = 5 and beta = 5 (MuJoCo, Adroit; beta_eff = beta * T / obs_dim) or beta = 1
  (AntMaze; no per-atom division, beta_eff = beta * T); rewards then scaled by
  1000 / (max - min episode return) over the relabelled dataset and shifted by the
  bias: -2 on AntMaze, 0 elsewhere.
Choices made here (OTR's code is silent or does not apply):
  pointmaze (the project's generated mazes) uses AntMaze's values: same reward
      structure (goal-reached flags, IQL's antmaze config).
  pad_to_episode_length = False: pad each episode to the next power of two instead
      of T (see clue_jax/rewards/otr.py: equal up to an e^-100 term, much faster on
      data with many short episodes); True pads to T exactly as OTR.
  chunk_cells = 2**20: cost-matrix entries solved together (problems x n x m): one
      1024 x 1024 problem at a time, which keeps the matrices in a CPU's cache (16 at
      once were 5x slower per problem here); raise it on a GPU/TPU to fill the device.
"""

import ml_collections

_DOMAINS = {  # alpha, beta, normalize_by_atom, reward_shift (OTR's bias)
    "locomotion": (5.0, 5.0, True, 0.0),
    "adroit": (5.0, 5.0, True, 0.0),
    "antmaze": (5.0, 1.0, False, -2.0),
    "pointmaze": (5.0, 1.0, False, -2.0),
}
_ALIASES = {"mujoco": "locomotion", "maze2d": "pointmaze"}


def get_config(domain: str = "locomotion") -> ml_collections.ConfigDict:
    name = _ALIASES.get(domain, domain)
    if name not in _DOMAINS:
        raise ValueError(f"otr_config: unknown domain {domain!r}; use one of "
                         f"{sorted(_DOMAINS) + sorted(_ALIASES)}.")
    alpha, beta, normalize_by_atom, shift = _DOMAINS[name]
    config = ml_collections.ConfigDict()
    config.domain = name
    config.episode_length = 1000
    config.epsilon = 0.01
    config.max_iterations = 100
    config.threshold = 1e-9
    config.alpha = alpha
    config.beta = beta
    config.normalize_by_atom = normalize_by_atom
    config.pad_to_episode_length = False
    config.chunk_cells = 2 ** 20
    config.reward_scaling = "return_range"
    config.reward_shift = shift
    return config
