"""A run's inputs checked before any data is read or folder made, and the resume checks.

    check_settings(settings)        combinations that cannot work (flags, files, folders)
    check_config(config, rules, f)  a resolved config's fields in range
    check_resume(run_dir, record, settings)   a resumed run's settings against config.json
    check_data_and_resume(...)      one batch of data, and every file a resume reads

Each failure is a SettingsError naming the flag or file, what was expected and the fix.
"""

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List

import ml_collections
import numpy as np

from clue_jax import checkpoints, rules
from clue_jax.envs import registry
from clue_jax.experiments import domains
from clue_jax.experiments.agents import AGENTS
from clue_jax.experiments.settings import RunSettings, SettingsError
from clue_jax.rewards import labellers


def check_config(config: ml_collections.ConfigDict, config_rules, flag: str) -> None:
    """SettingsError for the first field of `config` that breaks `config_rules`."""
    problems = rules.problems(config, config_rules or {})
    if problems:
        raise SettingsError(f"{flag}.{problems[0]}. Fix: pass a value in range (the config "
                            f"file's values are the reference's).")


def check_settings(settings: RunSettings) -> labellers.Labeller:
    """Combinations that cannot work, refused before any data is read."""
    if settings.labeller not in labellers.LABELLERS:
        raise SettingsError(f"--labeller={settings.labeller!r}: expected one of "
                            f"{sorted(labellers.LABELLERS)}.")
    if settings.agent not in AGENTS:
        raise SettingsError(f"--agent={settings.agent!r}: expected one of {sorted(AGENTS)}.")
    labeller = labellers.LABELLERS[settings.labeller]
    allowed = AGENTS[settings.agent].labellers
    if allowed is not None and settings.labeller not in allowed:
        why = ("it learns from the demonstrations itself"
               if AGENTS[settings.agent].learns_from_demos else "its reference's rewards")
        raise SettingsError(f"--agent={settings.agent} takes its rewards from --labeller="
                            f"{allowed[0]} ({why}), not --labeller={settings.labeller}; pass "
                            f"--labeller={allowed[0]} or leave --labeller out.")
    if allowed is None and settings.labeller == "none":
        raise SettingsError(f"--labeller=none gives no rewards, and --agent={settings.agent} "
                            "learns from rewards; use it with an imitation learner "
                            f"({[n for n, a in AGENTS.items() if a.labellers == ('none',)]}) or "
                            "pick a reward labeller.")
    if AGENTS[settings.agent].learns_from_demos and (settings.reward_file
                                                      or settings.setting == "unsupervised"):
        raise SettingsError(f"--agent={settings.agent} learns from K demonstrations: use "
                            "--setting=imitation (or sparse) without --reward_file.")
    if settings.setting == "unsupervised" and settings.labeller != "clue":
        raise SettingsError(f"--setting=unsupervised (K-means skills) is CLUE's alone; pass "
                            f"--labeller=clue, or --setting=sparse / imitation for "
                            f"--labeller={settings.labeller}.")
    if settings.reward_file and not Path(settings.reward_file).is_file():
        raise SettingsError(f"--reward_file={settings.reward_file}: no such file; pass the "
                            "rewards.npz an earlier run of this dataset wrote (<run>/rewards.npz).")
    name = settings.expert_dataset
    if name and not Path(name).exists() and ("/" in name or name.endswith((".hdf5", ".h5"))):
        raise SettingsError(f"--expert_dataset={name}: no such file; pass an existing HDF5 file "
                            "of expert trajectories or a dataset name (e.g. "
                            "gen-hopper-expert-demos-v0).")
    for flag, path in (("--expert_dataset", name), ("--dataset_path", settings.dataset_path),
                       ("--reward_file", settings.reward_file)):
        if path and Path(path).is_dir():
            raise SettingsError(f"{flag}={path}: a folder; expected a file (e.g. "
                                f"{Path(path) / '<name>.hdf5'}).")
    if settings.dataset_path and not Path(settings.dataset_path).exists():
        raise SettingsError(f"--dataset_path={settings.dataset_path}: no such file; pass the "
                            "dataset's HDF5 file, or drop --dataset_path to use the name.")
    needs_demos = labeller.needs_experts or AGENTS[settings.agent].learns_from_demos
    if (settings.setting == "imitation" and needs_demos
            and not domains.demonstrations_for(settings.env_name, name)):
        raise SettingsError(f"--setting=imitation on {settings.env_name} needs "
                            "--expert_dataset=<a dataset name or HDF5 file of expert "
                            "trajectories>: only the generated datasets (gen-*) come with "
                            "their own demonstrations.")
    check_save_dir(settings.save_dir)
    with_experts = sorted(n for n, lab in labellers.LABELLERS.items() if lab.needs_experts)
    if settings.labeller == "true" and settings.setting != "sparse" and not settings.reward_file:
        raise SettingsError(f"--labeller=true trains on the dataset's own rewards, which "
                            f"--setting={settings.setting} discards; use --setting=sparse or a "
                            f"labeller that learns from experts ({with_experts}).")
    if labeller.requires is not None:
        try:
            labeller.requires()
        except ImportError as err:
            raise SettingsError(f"--labeller={settings.labeller} cannot run on this "
                                f"installation: {err}") from err
    return labeller


def check_save_dir(save_dir: str) -> None:
    """SettingsError when --save_dir is a file or lies in a folder this process cannot write."""
    path = Path(save_dir).resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise SettingsError(f"--save_dir={save_dir}: {existing} is a file; expected a folder "
                            "(it is made if missing). Pass --save_dir=<a folder>.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"--save_dir={save_dir}: {existing} cannot be written by this user; "
                            "pass --save_dir=<a folder you can write>.")


# Settings that do not change what a run trains: they may differ on --resume.
RESUME_FREE = ("resume", "resume_anyway", "progress", "eval_episodes", "log_interval",
               "save_dir", "download", "eval_backend", "deadline")


def _flatten(tree: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


# Config fields added after runs were recorded, with the value that means what a record
# without them meant: such a run resumes as before (the constant's level_from: '' is `value`).
ADDED_FIELDS = {"labeller_config.level_from": ""}


def settings_differences(stored: Dict[str, Any], new: Dict[str, Any]) -> List[str]:
    """'key: stored -> new' for every value that differs, except RESUME_FREE settings (a
    field of ADDED_FIELDS absent from `stored` counts as its value there)."""
    now = _flatten(json.loads(json.dumps(new, default=str)))
    old = {**{k: v for k, v in ADDED_FIELDS.items() if k in now}, **_flatten(stored)}
    free = {f"settings.{name}" for name in RESUME_FREE} | {"loop.resume", "loop.progress",
                                                           "loop.log_interval", "loop.deadline"}
    old = {k: v for k, v in old.items() if not k.startswith("provenance.")}
    now = {k: v for k, v in now.items() if not k.startswith("provenance.")}
    return [f"{key}: {old.get(key, '(absent)')} -> {now.get(key, '(absent)')}"
            for key in sorted(set(old) | set(now))
            if key not in free and old.get(key) != now.get(key)]


def check_resume(run_dir: Path, record: Dict[str, Any], settings: RunSettings) -> None:
    """Refuse to resume a run under settings that change what it trains (see RESUME_FREE).

    With `resume_anyway` the run goes on and the differences are appended to
    <run>/resume_overrides.json.
    """
    path = Path(run_dir) / "config.json"
    if not (settings.resume and path.exists()):
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SettingsError(f"--resume: {path} cannot be read ({err}); it was cut short (a "
                            "full disk or a copy that stopped?). Move the run folder aside to "
                            "start afresh, or restore the file.") from None
    diffs = settings_differences(stored, record)
    if not diffs:
        return
    if not settings.resume_anyway:
        raise SettingsError(
            f"--resume: {run_dir} was trained with other settings ({'; '.join(diffs)}). "
            "Resume with the stored values, drop --resume to start a fresh run (the old one "
            "is moved aside), or pass --resume_anyway to continue with the new values "
            "(recorded in resume_overrides.json).")
    log = Path(run_dir) / "resume_overrides.json"
    entries = json.loads(log.read_text()) if log.exists() else []
    entries.append({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "differences": diffs})
    log.write_text(json.dumps(entries, indent=2))
    print(f"[clue_jax] --resume_anyway: continuing {run_dir} with changed settings: "
          + "; ".join(diffs))


RESUME_FILES = (checkpoints.CHECKPOINT_NAME, "cvae.msgpack", "cvae.msgpack.partial",
                "cvae_uncalibrated.msgpack", "cvae_uncalibrated.msgpack.partial")


def check_data_and_resume(settings: RunSettings, dataset, batch: int, run_dir: Path) -> None:
    """Before any folder: enough rows for a batch, and every file a resume reads readable."""
    if dataset.size < batch:
        cut = (f" after --dataset_fraction={settings.dataset_fraction}"
               if settings.dataset_fraction < 1 else "")
        raise SettingsError(
            f"{settings.env_name} has {dataset.size} transitions{cut}, fewer than one batch "
            f"(--batch_size={batch}); pass a larger --dataset_fraction or a smaller "
            "--batch_size.")
    if not settings.resume:
        return
    fix = (f" Nothing was changed in {run_dir}; drop --resume to start afresh (the old run "
           "is moved aside), or restore the file.")
    for name in RESUME_FILES:
        path = Path(run_dir) / name
        if path.exists():
            try:
                checkpoints.load_raw(path)
            except ValueError as err:
                raise SettingsError(f"--resume: {err}{fix}") from None
    rewards = Path(run_dir) / "rewards.npz"
    if rewards.exists():
        try:
            with np.load(rewards, allow_pickle=False) as f:
                f["rewards"]
        except Exception as err:  # noqa: BLE001 -- a truncated or foreign file
            raise SettingsError(f"--resume: {rewards} cannot be read ({err}).{fix}") from None


def check_evaluation(settings: RunSettings) -> None:
    """The evaluation backend fits the env, and the env's reference returns are known (a
    normalized score needs them)."""
    if settings.eval_backend == "device" and settings.eval_episodes > 0:
        family = registry.get_spec(settings.env_name).family
        if family not in ("locomotion", "gen-locomotion") or settings.env_name.startswith("ant-"):
            raise SettingsError(f"--eval_backend=device runs the hopper, halfcheetah and walker2d "
                                f"envs; {settings.env_name} evaluates on the host "
                                "(--eval_backend=host).")
        import importlib.util
        if importlib.util.find_spec("mujoco.mjx") is None:
            raise SettingsError("--eval_backend=device needs mujoco-mjx: pip install -e "
                                "'.[mjx]'.")
    if (settings.eval_episodes > 0 and settings.setting != "unsupervised"
            and not registry.reference_scores_measured(settings.env_name)):
        raise SettingsError(
            f"--env_name={settings.env_name}: its reference returns are not known, so no "
            "normalized score can be reported; "
            + registry.UNMEASURED_SCORE_HINTS.get(settings.env_name,
                                                  "register the spec with measured values.")
            + " (--eval_episodes=0 trains without evaluating.)")
