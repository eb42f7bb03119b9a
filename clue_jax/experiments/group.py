"""A dataset's runs as one program: seeds x K x labellers of one task, trained together.

    plans = [make_plan(RunSettings(env_name=name, labeller="clue", num_expert=k, seed=s,
                                   setting="imitation")) for k in (1, 5, 10) for s in seeds]
    results = run_group(plans, task)

The members share the task (one dataset on the device). Each member's plan is checked
against the task and the run folder, and each gets its folder, experts and config.json
before any labelling starts; then

- labelling: members with the same labeller, setting and labeller config (but the
  fields that only change how a trained model labels, `Labeller.labelling_fields`) are
  labelled by one `Labeller.label_all` call (CLUE: one vmapped CVAE program for all their
  seeds and K, one CVAE per seed and expert set whatever c each member labels with; OTR:
  one coupling per distinct expert set, shared by the seeds);
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

from clue_jax import checkpoints, locks, timing, training
from clue_jax.experiments import checks, domains, records, runner
from clue_jax.experiments.plan import RunPlan
from clue_jax.experiments.settings import SettingsError
from clue_jax.rewards import labellers, storage

# Settings a group's members may not differ in: they decide the task (one dataset).
TASK_FIELDS = ("env_name", "dataset_path", "download", "dataset_fraction")


def check_members(plans: Sequence[RunPlan]) -> None:
    """SettingsError when the members cannot share one task or two share a run folder."""
    if not plans:
        raise SettingsError("a group needs at least one run.")
    first = plans[0].settings
    for s in (p.settings for p in plans[1:]):
        for field in TASK_FIELDS:
            if getattr(s, field) != getattr(first, field):
                raise SettingsError(
                    f"a group's runs share one dataset, but --{field} differs "
                    f"({getattr(first, field)!r} vs {getattr(s, field)!r}); run them as "
                    "separate groups (reproduce.py groups by dataset).")
        if s.setting == "unsupervised":
            raise SettingsError("the unsupervised setting trains one agent per skill: run it "
                                "alone (--setting=unsupervised), not in a group.")
    dirs = [str(p.run_dir) for p in plans]
    repeated = sorted({d for d in dirs if dirs.count(d) > 1})
    if repeated:
        raise SettingsError(f"two runs of the group would write the same run folder "
                            f"{repeated[0]}; give each run its own seed, K, method or --tag.")


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



def run_group(plans: List[RunPlan], task: domains.Task,
              sharding: Optional[Callable[[int], Any]] = None) -> List[Dict[str, Any]]:
    """Sparse or imitation runs of one task as few programs as their plans allow.

    Args:
        plans: the members' plans (see the module docstring); they may differ in seed,
            K, labeller, setting, calibration, tag and learner settings.
        task: the resolved task they share.
        sharding: n -> a sharding of n stacked members over the devices, or None.
    Returns:
        Each member's results (as written to its results.json), in order.
    """
    check_members(plans)
    datasets = [runner.discard_rewards(task.dataset) if p.settings.setting == "imitation"
                else task.dataset for p in plans]
    truths = [None if p.settings.setting == "imitation" else task.dataset.rewards
              for p in plans]
    preflights = [None if p.settings.reward_file
                  else labellers.get_labeller(p.settings.labeller).preflight for p in plans]
    # the data's fingerprint, once for the group, where a labeller checks its inputs with it
    fingerprint = records.fingerprint(task.dataset) if any(preflights) else None
    stored = []
    for p, dataset, preflight in zip(plans, datasets, preflights):
        record = p.record(dataset.size)
        checks.check_resume(p.run_dir, record, p.settings)
        if p.settings.reward_file:  # keys, length, checksum and finite values, before any folder
            storage.load_rewards(p.settings.reward_file, dataset)
        if preflight is not None:
            preflight(p.labeller_config, task.env_name, p.settings.seed, fingerprint)
        stored.append(record)
    for p, dataset in zip(plans, datasets):
        checks.check_data_and_resume(p.settings, dataset, p.loop.batch_size, p.run_dir)
    selections = [runner.choose_experts(p, task, d)  # cheap; may fail: before any folder
                  if labellers.get_labeller(p.settings.labeller).needs_experts
                  and not p.settings.reward_file else None for p, d in zip(plans, datasets)]
    for p in plans:  # a live writer anywhere stops the group before any folder
        locks.check_free(p.run_dir)
    try:
        return _run_members(plans, task, sharding, datasets, truths, stored, selections)
    finally:
        for p in plans:
            locks.release(p.run_dir)


def _run_members(plans, task, sharding, datasets, truths, stored, selections
                 ) -> List[Dict[str, Any]]:
    """run_group after every member is checked: folders, labelling, training, results."""
    n = len(plans)
    prov = records.provenance(task.env_name, task.dataset)
    for p, record, expert in zip(plans, stored, selections):
        training.prepare_run_dir(p.run_dir, {**record, "provenance": prov}, p.settings.resume)
        if expert is not None:
            print(f"[clue_jax] experts ({p.method}, seed {p.settings.seed}): {expert.message}")
            records.write_experts(p.run_dir, expert, p.settings)
    labelled: List[Any] = [None] * n
    own: List[Dict[str, Any]] = [{} for _ in range(n)]  # each member's program's share
    for part in _partition(range(n), lambda i: _json([
            plans[i].settings.labeller, plans[i].settings.setting, plans[i].settings.reward_file,
            _model_config(plans[i].settings.labeller, stored[i]["labeller_config"]),
            plans[i].settings.agent])):
        before = timing.snapshot()
        with timing.phase("labelling"):
            out = runner.label_seeds([plans[i] for i in part], task, datasets[part[0]],
                                     [selections[i] for i in part], truths[part[0]])
        spent = timing.since(before)
        for i, result in zip(part, out):
            labelled[i] = result
            own[i]["labelling"] = {"runs": len(part), **spent["seconds"]}
            if "label_models" in spent["counts"]:  # a labeller that counts its models
                own[i]["labelling"]["models"] = spent["counts"]["label_models"]
    results: List[Any] = [None] * n
    for part in _partition(range(n), lambda i: _training_key(plans[i], stored[i],
                                                             labelled[i][1])):
        first = plans[part[0]]
        s = first.settings
        if len(part) > 1:
            print(f"[clue_jax] {s.agent}: {len(part)} runs train as one vmapped program ("
                  + ", ".join(sorted({plans[i].method for i in part})) + ")")
        before = timing.snapshot()
        with timing.phase("training"):
            trained = runner.train_agents(
                [labelled[i][0] for i in part], task.env_name, s.agent,
                first.agent_config_dict(), [plans[i].loop for i in part],
                [plans[i].run_dir for i in part], s.eval_episodes,
                [labelled[i][1] for i in part],
                sharding=sharding(len(part)) if sharding and len(part) > 1 else None,
                eval_backend=s.eval_backend)
        spent = timing.since(before)
        for i, (result, _) in zip(part, trained):
            results[i] = result
            own[i]["training"] = {"runs": len(part), **spent["seconds"], **spent["counts"]}
    out = []
    phases = {"runs_in_group": n, "seconds": timing.totals()}
    for p, result, (_, _, labels), expert, mine in zip(plans, results, labelled, selections, own):
        s = p.settings
        # the group's phases (shared by its runs), and this run's labelling and training
        # programs (their members, seconds, updates and evaluation env steps made in this
        # process): what benches and reproduce.py --plan's estimates read
        result["timing"] = {**phases, **mine}
        result = records.finish_results(s, p.run_dir, result, labels, expert)
        final, last3 = result["final_normalized_score"], result["score_last3"]
        scores = ("no evaluation" if final is None else
                  f"normalized score {final:.1f} (mean of the last 3 evaluations {last3:.1f})")
        print(f"[clue_jax] {s.env_name} {p.method} seed {s.seed}: "
              f"{scores} after {result['steps']} updates -> {p.run_dir}")
        out.append(result)
    return out


def _model_config(labeller: str, config: Dict[str, Any]) -> Dict[str, Any]:
    """The labeller's config without the fields that only change how its trained model
    labels (`Labeller.labelling_fields`): members equal in it share one labelling call."""
    fields = labellers.get_labeller(labeller).labelling_fields
    return {k: v for k, v in config.items() if k not in fields}


def _training_key(plan: RunPlan, record: Dict[str, Any], second_source: Any) -> str:
    """Members with equal keys can be stacked: same learner and config, same loop but the
    seed, same evaluation, same data layout and the same update to resume from."""
    settings = plan.settings
    loop = {k: v for k, v in record["loop"].items() if k != "seed"}
    layout = None if second_source is None else second_source.size
    return _json([settings.agent, record[settings.agent], loop, settings.eval_episodes,
                  settings.eval_backend, layout, checkpoint_step(plan.run_dir, settings.resume)])
