"""The shuffled labeller: another run's rewards, permuted over the dataset's rows.

    --labeller=shuffled --shuffled_config.rewards_from=<run folder>

The control beside the constant one. A constant at a labeller's mean reward keeps its
level; the shuffled rewards keep every value it gave, so their level and spread, and lose
which transition got which. If IQL scores as well on them as on the labeller's own, the
labeller's number measures the distribution of its rewards, not where it put them.

`rewards_from` names the labeller's run folder (its rewards.npz, as its learner saw them:
post-processed, the domain's shift included); `{task}` and `{seed}` in it are filled with
each run's dataset name and seed, so one flag pairs each run of a grid with the labeller's
run of the same dataset and seed: `<grid>/clue-imitation-K1/{task}/seed_{seed}`. The
permutation is drawn with `permutation_seed`, or the run's own seed when it is -1 (the
default), over all rows alike: terminal and timeout rows keep their flags and take any
row's reward. The source is checked before any run folder exists (a run of the same
dataset name, made from the same transitions, with a rewards.npz); the file's own
checksum is checked against the data when it is read. The resolved file and the seed are
recorded in the run's results.json (`labels`).
"""

from pathlib import Path
from typing import Optional

import numpy as np

from clue_jax import rules
from clue_jax.rewards import source_run, storage
from clue_jax.rewards.base import REWARD_FILE, LabelRequest, Labels
from clue_jax.rewards.storage import RewardFileError

FLAG = "--shuffled_config.rewards_from"
CONFIG_RULES: rules.Rules = {
    "rewards_from": source_run.template_rule(),
    "permutation_seed": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= -1,
                         "an integer >= 0, or -1 for the run's own seed"),
}


def reward_file(config, env_name: str, seed: int, fingerprint: Optional[str] = None) -> Path:
    """The rewards.npz `rewards_from` names for this run, checked as far as can be without
    the data; RewardFileError naming the flag."""
    if not config.get("rewards_from"):
        raise RewardFileError(f"{FLAG}: not set; name the run whose rewards to shuffle, e.g. "
                              f"{FLAG}=<grid>/clue-imitation-K1/{{task}}/seed_{{seed}}.")
    run = source_run.folder(config.rewards_from, env_name, seed)
    source = source_run.check(run, env_name, fingerprint, FLAG)
    path = run / REWARD_FILE
    if not path.is_file():
        labeller = source.get("settings", {}).get("labeller")
        raise RewardFileError(
            f"{FLAG}={run}: no {REWARD_FILE} there: its labelling has not finished (run it "
            f"first), or its labeller ({labeller!r}) saves none; name a run of one that does "
            "(clue, otr, oril).")
    return path


def preflight(config, env_name: str, seed: int, fingerprint: Optional[str] = None) -> None:
    """A run's `rewards_from`, checked before any folder (with the data's fingerprint once
    the data is read)."""
    reward_file(config, env_name, seed, fingerprint)


def label(request: LabelRequest) -> Labels:
    """The source run's rewards (checksum-checked against this dataset), permuted."""
    cfg = request.config
    path = reward_file(cfg, request.env_name, request.seed)
    try:
        source = storage.load_rewards(path, request.dataset)
    except RewardFileError as err:
        raise RewardFileError(f"{FLAG}: {err}") from None
    seed = request.seed if int(cfg.permutation_seed) == -1 else int(cfg.permutation_seed)
    rewards = source[np.random.default_rng(seed).permutation(source.shape[0])]
    wide = rewards.astype(np.float64)
    return Labels(rewards, {"reward_mean": float(wide.mean()), "reward_std": float(wide.std()),
                            "rewards_from": str(path), "permutation_seed": seed})
