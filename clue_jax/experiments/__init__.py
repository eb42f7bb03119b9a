"""The experiment layer: a run built from frozen settings, in process.

    from clue_jax.experiments import RunSettings, run
    results = run(RunSettings(env_name="gen-pointmaze-large-diverse-v0", labeller="otr"))

domains.py  the one per-domain table; a dataset name resolved once into a Task
settings.py RunSettings (frozen), the run-folder name of a method
checks.py   inputs checked before any data is read or folder made; the resume checks
plan.py     RunPlan: a run's settings resolved once (configs, loop, experts, folder), frozen
runner.py   the pipeline: experts -> labeller -> agent -> loop (the seam: `label_seeds`)
records.py  what a run writes about itself: provenance, experts.json, the labels' summary
group.py    a dataset's runs (seeds x K x labellers) as one program
skills.py   the unsupervised setting: K-means clusters through the same seam
flags.py    absl flags -> RunSettings for the scripts (the only reader of FLAGS)
"""

import dataclasses
from typing import Any, Dict, List, Sequence

import numpy as np

from clue_jax import timing
from clue_jax.experiments import domains, group, runner, skills
from clue_jax.experiments.domains import DOMAINS, Domain, Task, load_dataset, resolve_task
from clue_jax.experiments.plan import RunPlan, make_plan
from clue_jax.experiments.settings import RunSettings, SettingsError


def run(settings: RunSettings) -> Dict[str, Any]:
    """One run from its settings: its plan made (every input checked), the task resolved
    once, then the setting's stages."""
    plan = make_plan(settings)
    timing.reset()  # this program's phases only (several may run in one process)
    with timing.phase("data"):
        task = resolve_task(settings.env_name, dataset_path=settings.dataset_path,
                            download=settings.download, fraction=settings.dataset_fraction,
                            seed=settings.seed)
    if settings.setting == "unsupervised":
        return {"skills": skills.run(plan, task)}
    return group.run_group([plan], task)[0]


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
    plans = [make_plan(dataclasses.replace(settings, seed=s)) for s in seeds]
    timing.reset()
    with timing.phase("data"):
        task = resolve_task(settings.env_name, dataset_path=settings.dataset_path,
                            download=settings.download)
    return group.run_group(plans, task, sharding=seed_sharding)


def run_group(settings_list: Sequence[RunSettings]) -> List[Dict[str, Any]]:
    """Runs of one dataset (any mix of seeds, K, labellers, settings), trained as few
    programs as their settings allow (clue_jax.experiments.group). Every member is checked
    before any data is read; each writes the run folder a separate run of it would."""
    plans = [make_plan(s) for s in settings_list]
    group.check_members(plans)
    if len(plans) > 1 and plans[0].settings.dataset_fraction < 1.0:
        raise SettingsError("a group with --dataset_fraction < 1: each seed keeps its own "
                            "random trajectories, so the runs share no dataset; run them "
                            "separately.")
    first = plans[0].settings
    timing.reset()
    with timing.phase("data"):
        task = resolve_task(first.env_name, dataset_path=first.dataset_path,
                            download=first.download, fraction=first.dataset_fraction,
                            seed=first.seed)
    return group.run_group(plans, task, sharding=seed_sharding)


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


__all__ = ["DOMAINS", "Domain", "RunPlan", "RunSettings", "Task", "domains", "load_dataset",
           "make_plan", "resolve_task", "run", "run_group", "run_seeds", "runner"]
