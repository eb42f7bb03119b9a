"""The constant labeller: one reward on every row, given by hand or read from another run.

    --labeller=constant --constant_config.value=0.5          value + reward_shift per row
    --labeller=constant --constant_config.level_from=<run>   that run's mean reward per row

The control that says what a labeller adds to the data's own terminals. A level control
puts the constant at the labeller's own mean reward, as its learner saw it (rewards
post-processed, the domain's shift included): `level_from` names that run's folder, and
the constant is the mean of its rewards.npz (or, for a labeller that saves none, the
`labels.reward_mean` of its results.json); `value` and `reward_shift` are then not used.
The folder may hold `{task}` and `{seed}`, filled with each run's dataset name and seed,
so one flag serves a grid: `<grid>/clue-imitation-K1/{task}/seed_{seed}` matches each
seed of each dataset with CLUE's run of the same dataset and seed.

The folder is checked before any run folder exists: it must be a run of the same dataset
name (its config.json) made from the same transitions (the data fingerprint in its
provenance), with a finite level. The resolved folder and the level are recorded in the
run's results.json (`labels`).
"""

from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from clue_jax import rules
from clue_jax.rewards import source_run
from clue_jax.rewards.base import REWARD_FILE, LabelRequest, Labels
from clue_jax.rewards.storage import RewardFileError

FLAG = "--constant_config.level_from"
CONFIG_RULES: rules.Rules = {
    "value": rules.finite(), "reward_shift": rules.finite(),
    "level_from": source_run.template_rule(),
}


def read_level(folder: Path, env_name: str, fingerprint: Optional[str] = None
               ) -> Tuple[float, str]:
    """(mean reward, the file it came from) of the run in `folder`.

    Raises:
        RewardFileError naming the flag: not a run folder, a run of another dataset (name,
            or with `fingerprint`, other transitions), or no finite level in it yet.
    """
    config = source_run.check(folder, env_name, fingerprint, FLAG)
    rewards_path = folder / REWARD_FILE
    if rewards_path.is_file():
        try:
            with np.load(rewards_path, allow_pickle=False) as f:
                rewards = np.asarray(f["rewards"], np.float64)
        except (OSError, ValueError, KeyError) as err:
            raise RewardFileError(f"{FLAG}={folder}: {rewards_path} is not a readable reward "
                                  f"file ({err}); relabel that run.") from None
        level, where = (float(rewards.mean()) if rewards.size else float("nan")), rewards_path
    else:
        results_path = folder / "results.json"
        if not results_path.is_file():
            raise RewardFileError(
                f"{FLAG}={folder}: no {REWARD_FILE} and no results.json there yet: its "
                "labelling has not finished (run it first), or its labeller keeps neither.")
        labels = source_run.read_json(results_path, FLAG, env_name).get("labels", {})
        if "reward_mean" not in labels:
            raise RewardFileError(
                f"{FLAG}={folder}: its results.json has no labels.reward_mean (its labeller, "
                f"{config.get('settings', {}).get('labeller')!r}, gives no one reward per row); "
                "name a run of a labeller that does (clue, otr, oril, true, constant).")
        level, where = float(labels["reward_mean"]), results_path
    if not np.isfinite(level):
        raise RewardFileError(f"{FLAG}={folder}: the mean reward in {where} is {level}; relabel "
                              "that run.")
    return level, str(where)


def preflight(config, env_name: str, seed: int, fingerprint: Optional[str] = None) -> None:
    """A run's `level_from`, checked before any folder (with the data's fingerprint, once the
    data is read); RewardFileError naming the flag."""
    if not config.get("level_from"):
        return
    if float(config.value) != 0.0:
        raise RewardFileError(f"{FLAG} and --constant_config.value={config.value} both set the "
                              "reward; pass one of them.")
    read_level(source_run.folder(config.level_from, env_name, seed), env_name, fingerprint)


def label(request: LabelRequest) -> Labels:
    """value + reward_shift on every row, or `level_from`'s level; the dataset's own rewards
    are never read."""
    cfg = request.config
    if cfg.get("level_from"):
        folder = source_run.folder(cfg.level_from, request.env_name, request.seed)
        reward, where = read_level(folder, request.env_name)
        info = {"reward_mean": reward, "level_from": where}
    else:
        reward = float(cfg.value) + float(cfg.reward_shift)
        info = {"reward_mean": reward}
    return Labels(np.full(request.dataset.size, reward, np.float32), info)
