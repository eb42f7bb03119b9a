"""Another run named by a labeller's config: the control labellers read a labeller's run.

    source_run.folder("<grid>/clue-imitation-K1/{task}/seed_{seed}", env_name, seed)
    source_run.check(folder, env_name, fingerprint, flag)   # its config.json, or refused

The constant labeller's `level_from` and the shuffled labeller's `rewards_from` name the
run whose rewards they control for. The name may hold `{task}` and `{seed}`, filled with
each run's dataset name and seed, so one flag serves a grid. `check` refuses, with a
RewardFileError naming the flag, a folder that is not a run, a run of another dataset
(its config.json), or, given the data's fingerprint, a run made from other transitions.
"""

import json
import string
from pathlib import Path
from typing import Optional

from clue_jax import rules
from clue_jax.rewards.storage import RewardFileError

PLACEHOLDERS = ("task", "seed")


def fields(template: str) -> Optional[set]:
    """The placeholder names in `template`, or None when it is not a valid one."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return None
    return names if names <= set(PLACEHOLDERS) else None


def template_rule() -> rules.Rule:
    """A config field that names a run folder ('' for none), placeholders allowed."""
    return (lambda v: isinstance(v, str) and fields(v) is not None,
            "a run folder ('' for none); it may hold {task} and {seed}")


def folder(template: str, env_name: str, seed: int) -> Path:
    """The run folder `template` names for the run of `env_name` with `seed`."""
    return Path(template.format(task=env_name, seed=seed))


def _what_to_pass(env_name: str) -> str:
    """The fix every refusal names."""
    return (f"pass the folder of a finished or labelled run of {env_name} (<save_dir>/<method>/"
            f"{env_name}/seed_<seed>)")


def read_json(path: Path, flag: str, env_name: str) -> dict:
    """A JSON file of the source run; RewardFileError naming `flag` when unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RewardFileError(f"{flag}: {path} cannot be read as JSON ({err}); "
                              f"{_what_to_pass(env_name)}") from None


def check(run: Path, env_name: str, fingerprint: Optional[str], flag: str) -> dict:
    """The config.json of the run in `run`, once it is a run of `env_name` (and, with
    `fingerprint`, of the same transitions); RewardFileError naming `flag` otherwise."""
    fix = _what_to_pass(env_name)
    if not run.is_dir():
        raise RewardFileError(f"{flag}={run}: no such run folder; {fix}.")
    config_path = run / "config.json"
    if not config_path.is_file():
        raise RewardFileError(f"{flag}={run}: not a run folder (no config.json); {fix}.")
    config = read_json(config_path, flag, env_name)
    source_env = config.get("settings", {}).get("env_name")
    if source_env != env_name:
        raise RewardFileError(f"{flag}={run}: a run of {source_env}, and this run trains on "
                              f"{env_name}; a labeller's rewards are only comparable on its own "
                              f"dataset: {fix} (in a grid, write {{task}} where the dataset's "
                              "name goes).")
    if fingerprint is not None:
        source = config.get("provenance", {}).get("data", {}).get("sha256")
        if source != fingerprint:
            raise RewardFileError(
                f"{flag}={run}: its run learned from other transitions of {env_name} "
                f"(data fingerprint {source}, this run's {fingerprint}; generated data differ "
                "between platforms, or its --dataset_fraction / --dataset_path differ); label "
                "the dataset here first and name that run.")
    return config
