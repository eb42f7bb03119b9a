"""A dataset's runs as one program: seeds x K x labellers of one task, trained together.

    results = run_group([RunSettings(env_name=name, labeller="clue", num_expert=k, seed=s,
                                     setting="imitation") for k in (1, 5, 10) for s in seeds],
                        task)

The members share the task (one dataset on the device). Each member is checked and
gets its run folder, experts and config.json before any labelling starts; then

- labelling: members with the same labeller, setting and labeller config are labelled
  by one `Labeller.label_all` call (CLUE: one vmapped CVAE program for all their seeds
  and K; OTR: one coupling per distinct expert set, shared by the seeds);
- training: members with the same learner, learner config, loop (but the seed),
  evaluation and data layout train as one vmapped program (`runner.train_agents`),
  every member's agent stacked, the shared dataset held once, all their evaluation
  episodes stepped together by one `evaluation.Evaluator`.

Every member's run folder is the one a separate run of its settings writes (numbers
equal to float tolerance), so any member can be resumed or rerun alone. A single run
(`experiments.run`) and `--seeds` (`experiments.run_seeds`) are groups too.
"""

import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from clue_jax import checkpoints, locks, timing, training
from clue_jax.experiments import domains, runner
from clue_jax.experiments.settings import RunSettings, SettingsError
from clue_jax.rewards import labellers, storage

# Settings a group's members may not differ in: they decide the task (one dataset).
TASK_FIELDS = ("env_name", "dataset_path", "download", "dataset_fraction")


def check_members(settings_list: Sequence[RunSettings]) -> None:
    """SettingsError when the members cannot share one task or two share a run folder."""
    if not settings_list:
        raise SettingsError("a group needs at least one run.")
    first = settings_list[0]
    for s in settings_list[1:]:
        for field in TASK_FIELDS:
            if getattr(s, field) != getattr(first, field):
                raise SettingsError(
                    f"a group's runs share one dataset, but --{field} differs "
                    f"({getattr(first, field)!r} vs {getattr(s, field)!r}); run them as "
                    "separate groups (reproduce.py groups by dataset).")
        if s.setting == "unsupervised":
            raise SettingsError("the unsupervised setting trains one agent per skill: run it "
                                "alone (--setting=unsupervised), not in a group.")
    dirs = [str(member_dir(s)) for s in settings_list]
    repeated = sorted({d for d in dirs if dirs.count(d) > 1})
    if repeated:
        raise SettingsError(f"two runs of the group would write the same run folder "
                            f"{repeated[0]}; give each run its own seed, K, method or --tag.")


def member_dir(settings: RunSettings) -> Path:
    return runner.run_dir_for(settings.save_dir, settings.method(), settings.env_name,
                              settings.seed)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _partition(items: Sequence[int], key: Callable[[int], str]) -> List[List[int]]:
    """Indices grouped by key, in first-seen order."""
    groups: Dict[str, List[int]] = {}
    for i in items:
        groups.setdefault(key(i), []).append(i)
    return list(groups.values())


def checkpoint_step(run_dir: Path, resume: bool) -> int:
    """The update a member resumes from (0: a fresh start or no checkpoint)."""
    path = Path(run_dir) / checkpoints.CHECKPOINT_NAME
    if not (resume and path.exists()):
        return 0
    try:
        return int(checkpoints.load_raw(path).get("step", 0))
    except Exception:  # noqa: BLE001 -- a broken file is reported by the restore itself
        return -1


RESUME_FILES = (checkpoints.CHECKPOINT_NAME, "cvae.msgpack", "cvae.msgpack.partial",
                "cvae_uncalibrated.msgpack", "cvae_uncalibrated.msgpack.partial")


def check_data_and_resume(settings: RunSettings, dataset, record: Dict[str, Any],
                          run_dir: Path) -> None:
    """Before any folder: enough rows for a batch, and every file a resume reads readable."""
    batch = record["loop"]["batch_size"]
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


def run_group(settings_list: List[RunSettings], task: domains.Task,
              sharding: Optional[Callable[[int], Any]] = None) -> List[Dict[str, Any]]:
    """Sparse or imitation runs of one task as few programs as their settings allow.

    Args:
        settings_list: the members (see the module docstring); they may differ in seed,
            K, labeller, setting, calibration, tag and learner settings.
        task: the resolved task they share.
        sharding: n -> a sharding of n stacked members over the devices, or None.
    Returns:
        Each member's results (as written to its results.json), in order.
    """
    check_members(settings_list)
    datasets = [runner.discard_rewards(task.dataset) if s.setting == "imitation"
                else task.dataset for s in settings_list]
    truths = [None if s.setting == "imitation" else task.dataset.rewards for s in settings_list]
    records, run_dirs = [], []
    for s, dataset in zip(settings_list, datasets):
        run_dir = member_dir(s)
        record = {"method": s.method(), "settings": s.to_dict(),
                  s.agent: runner.resolved_agent_config(s, task.domain).to_dict(),
                  "labeller_config": runner.resolved_labeller_config(s, task.domain).to_dict(),
                  "dataset_size": dataset.size,
                  "loop": dict(runner.loop_config(s, task).__dict__)}
        runner.check_resume(run_dir, record, s)
        if s.reward_file:  # keys, length, checksum and finite values, before any folder
            storage.load_rewards(s.reward_file, dataset)
        records.append(record)
        run_dirs.append(run_dir)
    for s, dataset, record, run_dir in zip(settings_list, datasets, records, run_dirs):
        check_data_and_resume(s, dataset, record, run_dir)
    selections = [runner.choose_experts(s, task, d)  # cheap; may fail: before any folder
                  if labellers.get_labeller(s.labeller).needs_experts and not s.reward_file
                  else None for s, d in zip(settings_list, datasets)]
    for run_dir in run_dirs:  # a live writer anywhere stops the group before any folder
        locks.check_free(run_dir)
    try:
        return _run_members(settings_list, task, sharding, datasets, truths, records, run_dirs,
                            selections)
    finally:
        for run_dir in run_dirs:
            locks.release(run_dir)


def _run_members(settings_list, task, sharding, datasets, truths, records, run_dirs,
                 selections) -> List[Dict[str, Any]]:
    """run_group after every member is checked: folders, labelling, training, results."""
    n = len(settings_list)
    prov = runner.provenance()
    for s, record, run_dir, expert in zip(settings_list, records, run_dirs, selections):
        training.prepare_run_dir(run_dir, {**record, "provenance": prov}, s.resume)
        if expert is not None:
            print(f"[clue_jax] experts ({s.method()}, seed {s.seed}): {expert.message}")
            runner.write_experts(run_dir, expert, s)
    labelled: List[Any] = [None] * n
    for part in _partition(range(n), lambda i: _json([
            settings_list[i].labeller, settings_list[i].setting, settings_list[i].reward_file,
            records[i]["labeller_config"], settings_list[i].agent])):
        with timing.phase("labelling"):
            out = runner.label_seeds([settings_list[i] for i in part], task,
                                     [run_dirs[i] for i in part], datasets[part[0]],
                                     [selections[i] for i in part], truths[part[0]])
        for i, result in zip(part, out):
            labelled[i] = result
    results: List[Any] = [None] * n
    for part in _partition(range(n), lambda i: _training_key(settings_list[i], records[i],
                                                             labelled[i][1], run_dirs[i])):
        s = settings_list[part[0]]
        if len(part) > 1:
            print(f"[clue_jax] {s.agent}: {len(part)} runs train as one vmapped program ("
                  + ", ".join(sorted({settings_list[i].method() for i in part})) + ")")
        with timing.phase("training"):
            trained = runner.train_agents(
                [labelled[i][0] for i in part], task.env_name, s.agent,
                records[part[0]][s.agent],
                [runner.loop_config(settings_list[i], task) for i in part],
                [run_dirs[i] for i in part], s.eval_episodes, [labelled[i][1] for i in part],
                sharding=sharding(len(part)) if sharding and len(part) > 1 else None,
                eval_backend=s.eval_backend)
        for i, (result, _) in zip(part, trained):
            results[i] = result
    out = []
    phases = {"runs_in_group": n, "seconds": timing.totals()}
    for s, run_dir, result, (_, _, labels), expert in zip(settings_list, run_dirs, results,
                                                          labelled, selections):
        result["timing"] = phases  # the group's phases (shared by its runs), for benches
        result = runner.finish_results(s, run_dir, result, labels, expert)
        final, last3 = result["final_normalized_score"], result["score_last3"]
        scores = ("no evaluation" if final is None else
                  f"normalized score {final:.1f} (mean of the last 3 evaluations {last3:.1f})")
        print(f"[clue_jax] {s.env_name} {s.method()} seed {s.seed}: "
              f"{scores} after {result['steps']} updates -> {run_dir}")
        out.append(result)
    return out


def _training_key(settings: RunSettings, record: Dict[str, Any], second_source: Any,
                  run_dir: Path) -> str:
    """Members with equal keys can be stacked: same learner and config, same loop but the
    seed, same evaluation, same data layout and the same update to resume from."""
    loop = {k: v for k, v in record["loop"].items() if k != "seed"}
    layout = None if second_source is None else second_source.size
    return _json([settings.agent, record[settings.agent], loop, settings.eval_episodes,
                  settings.eval_backend, layout, checkpoint_step(run_dir, settings.resume)])
