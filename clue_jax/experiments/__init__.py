"""The experiment layer: a run built from frozen settings, in process.

    from clue_jax.experiments import RunSettings, run
    results = run(RunSettings(env_name="gen-pointmaze-large-diverse-v0", labeller="otr"))

domains.py  the one per-domain table; a dataset name resolved once into a Task
settings.py RunSettings (frozen), the run-folder name of a method
runner.py   experts -> labeller -> agent -> loop (the seam: `label_and_train`)
group.py    a dataset's runs (seeds x K x labellers) as one program
skills.py   the unsupervised setting: K-means clusters through the same seam
flags.py    absl flags -> RunSettings for the scripts (the only reader of FLAGS)
"""

import dataclasses
from typing import Any, Dict, List, Sequence

import numpy as np

from clue_jax import timing
from clue_jax.envs import registry
from clue_jax.experiments import domains, group, runner, skills
from clue_jax.experiments.domains import DOMAINS, Domain, Task, load_dataset, resolve_task
from clue_jax.experiments.settings import RunSettings, SettingsError


def run(settings: RunSettings) -> Dict[str, Any]:
    """One run from its settings: inputs checked, task resolved once, then the setting's stages."""
    check(settings)
    with timing.phase("data"):
        task = resolve_task(settings.env_name, dataset_path=settings.dataset_path,
                            download=settings.download, fraction=settings.dataset_fraction,
                            seed=settings.seed)
    if settings.setting == "unsupervised":
        return {"skills": skills.run(settings, task)}
    return group.run_group([settings], task)[0]


def run_seeds(settings: RunSettings, seeds: Sequence[int]) -> List[Dict[str, Any]]:
    """The run of `settings` for each of `seeds`, trained as one vmapped program.

    Each seed's run folder, results and checkpoints are those of a separate run
    with --seed=<s> (numbers equal to float tolerance), so a seed can be resumed
    or rerun alone. With several devices the seed axis is sharded over them
    (when the number of seeds is a multiple of the device count).
    """
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds) or not seeds:
        raise SettingsError(f"--seeds={','.join(map(str, seeds))}: expected distinct seeds, "
                            "e.g. --seeds=0,1,2.")
    if settings.setting == "unsupervised":
        raise SettingsError("--seeds trains the seeds of one sparse or imitation run together; "
                            "the unsupervised setting trains one agent per skill: run its "
                            "seeds separately (--seed=<s>).")
    if settings.dataset_fraction < 1.0:
        raise SettingsError("--seeds with --dataset_fraction < 1: each seed keeps its own "
                            "random trajectories, so the seeds share no dataset; run them "
                            "separately (--seed=<s>).")
    settings_list = [dataclasses.replace(settings, seed=s) for s in seeds]
    for s in settings_list:
        check(s)
    with timing.phase("data"):
        task = resolve_task(settings.env_name, dataset_path=settings.dataset_path,
                            download=settings.download)
    return group.run_group(settings_list, task, sharding=seed_sharding)


def run_group(settings_list: Sequence[RunSettings]) -> List[Dict[str, Any]]:
    """Runs of one dataset (any mix of seeds, K, labellers, settings), trained as few
    programs as their settings allow (clue_jax.experiments.group). Every member is checked
    before any data is read; each writes the run folder a separate run of it would."""
    settings_list = list(settings_list)
    group.check_members(settings_list)
    for s in settings_list:
        check(s)
    if len(settings_list) > 1 and settings_list[0].dataset_fraction < 1.0:
        raise SettingsError("a group with --dataset_fraction < 1: each seed keeps its own "
                            "random trajectories, so the runs share no dataset; run them "
                            "separately.")
    first = settings_list[0]
    with timing.phase("data"):
        task = resolve_task(first.env_name, dataset_path=first.dataset_path,
                            download=first.download, fraction=first.dataset_fraction,
                            seed=first.seed)
    return group.run_group(settings_list, task, sharding=seed_sharding)


def seed_sharding(num_seeds: int):
    """A sharding of the seed axis over every device, or None on one device (or when the
    seeds do not divide evenly; then everything stays on the default device, as said)."""
    import jax
    devices = jax.devices()
    if len(devices) < 2:
        return None
    if num_seeds % len(devices):
        print(f"[clue_jax] {num_seeds} seeds do not split evenly over {len(devices)} devices; "
              "training them on one device (pass a multiple of the device count to shard).")
        return None
    mesh = jax.sharding.Mesh(np.asarray(devices), ("seeds",))
    print(f"[clue_jax] {num_seeds} seeds sharded over {len(devices)} devices "
          f"({devices[0].platform})")
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds"))


def check(settings: RunSettings) -> None:
    """Every input of a run checked before any data is read or folder made."""
    runner.check_settings(settings)
    # the configs' fields in range (SettingsError naming --config.<field> or
    # --<labeller>_config.<field>)
    domain = domains.domain_of(registry.get_spec(settings.env_name))
    runner.resolved_agent_config(settings, domain)
    runner.resolved_labeller_config(settings, domain)
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


__all__ = ["DOMAINS", "Domain", "RunSettings", "Task", "domains", "load_dataset",
           "resolve_task", "run", "run_group", "run_seeds", "runner"]
