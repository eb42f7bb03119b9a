"""One run, in process: task -> experts -> labeller -> agent -> training loop -> results.

    results = clue_jax.experiments.run(RunSettings(env_name=..., labeller="clue"))

This is where a labeller meets the agent (`label_and_train`): the labeller's
rewards replace the dataset's, and the agent trains on that dataset without
knowing where its rewards came from. train_iql.py, train_clue.py and
reproduce.py all come here.
"""

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import ml_collections
import numpy as np

from clue_jax import evaluation, rules, timing, training
from clue_jax.logging import RunLogger
from clue_jax.data import experts as expert_lib
from clue_jax.data.d4rl_io import DatasetNotFoundError
from clue_jax.data.dataset import (Dataset, DatasetError, add_absorbing_states, concatenate,
                                   real_rows, trajectory_bounds)
from clue_jax.experiments import domains
from clue_jax.experiments.agents import AGENTS, default_data
from clue_jax.experiments.settings import RunSettings, SettingsError
from clue_jax.rewards import labellers, storage
from clue_jax.rewards.base import LabelRequest


def discard_rewards(dataset: Dataset) -> Dataset:
    """Reward-free data: the file's rewards are replaced by NaN so any later read shows."""
    return dataset.replace(rewards=np.full(dataset.size, np.nan, np.float32))


def resolved_agent_config(settings: RunSettings, domain: domains.Domain
                          ) -> ml_collections.ConfigDict:
    """The learner's config: the settings' or the domain's reference config; SettingsError
    naming the flag when a field breaks the learner's `config_rules`."""
    spec = AGENTS[settings.agent]
    if settings.agent_config is not None:
        config = ml_collections.ConfigDict(settings.agent_config.as_configdict())
    elif spec.env_config is not None:
        config = spec.env_config(settings.env_name)
    else:
        config = spec.default_config(domain)
    check_config(config, spec.config_rules, "--config")
    return config


def check_config(config: ml_collections.ConfigDict, config_rules, flag: str) -> None:
    """SettingsError for the first field of `config` that breaks `config_rules`."""
    problems = rules.problems(config, config_rules or {})
    if problems:
        raise SettingsError(f"{flag}.{problems[0]}. Fix: pass a value in range (the config "
                            f"file's values are the reference's).")


def resolved_labeller_config(settings: RunSettings, domain: domains.Domain
                             ) -> ml_collections.ConfigDict:
    """A private copy of the labeller's config, with the CLUE ablation fields applied;
    SettingsError naming the flag when a field breaks the labeller's `config_rules`."""
    labeller = labellers.get_labeller(settings.labeller)
    if settings.labeller_config is not None:
        config = ml_collections.ConfigDict(settings.labeller_config.as_configdict())
    elif settings.labeller == "true":  # the dataset's rewards, processed as the learner's reference
        scaling, shift = AGENTS[settings.agent].true_reward(domain)
        config = ml_collections.ConfigDict({"reward_scaling": scaling,
                                            "reward_shift": float(shift)})
    else:
        config = labeller.default_config(domain)
    if settings.labeller == "clue":
        config.calibrate = bool(settings.calibrate) and bool(config.calibrate)
        config.compare_uncalibrated = bool(settings.compare_uncalibrated)
        if settings.temperature is not None:
            config.temperature = float(settings.temperature)
        if settings.cvae_steps is not None:
            config.num_steps = int(settings.cvae_steps)
    check_config(config, labeller.config_rules, f"--{settings.labeller}_config")
    return config


def loop_config(settings: RunSettings, task: domains.Task) -> training.LoopConfig:
    max_steps = settings.max_steps if settings.max_steps is not None else task.domain.max_steps
    return training.LoopConfig(seed=settings.seed, max_steps=int(max_steps),
                               batch_size=settings.batch_size or AGENTS[settings.agent].batch_size,
                               log_interval=settings.log_interval,
                               eval_interval=settings.eval_interval,
                               progress=settings.progress, resume=settings.resume,
                               deadline=settings.deadline)


def run_dir_for(save_dir: str, method: str, env_name: str, seed: int) -> Path:
    """<save_dir>/<method>/<env_name>/seed_<seed>: one folder per run, safe for shell loops."""
    return Path(save_dir) / method / env_name / f"seed_{seed}"


def train_agent(dataset: Dataset, env_name: str, agent_name: str, config: Dict[str, Any],
                loop: training.LoopConfig, run_dir, eval_episodes: int,
                expert_data: Optional[Dataset] = None) -> Tuple[Dict[str, Any], Any]:
    """Train the learner `agent_name` on `dataset` (rewards final), write results.json.

    With `expert_data`, every batch holds loop.batch_size rows of each (SQIL), or,
    for the imitation learners, the demonstrations they learn from (`make_data`).
    """
    (results, agent), = train_agents([dataset], env_name, agent_name, config, [loop],
                                     [run_dir], eval_episodes, [expert_data])
    return results, agent


def train_agents(datasets: List[Dataset], env_name: str, agent_name: str, config: Dict[str, Any],
                 loops: List[training.LoopConfig], run_dirs: List[Any], eval_episodes: int,
                 expert_datas: List[Optional[Dataset]], sharding: Any = None,
                 eval_backend: str = "host") -> List[Tuple[Dict[str, Any], Any]]:
    """`train_agent` for S runs (loops[s].seed, each with its labelled dataset and run
    folder): one run trains alone; several train as one vmapped program
    (training.train_offline_seeds) and evaluate in one vectorized batch, on envs made
    once (`evaluation.Evaluator` with `eval_backend`). Returns (results, agent) per run;
    each run's results.json is a separate run's."""
    spec = AGENTS[agent_name]
    datas = [(spec.make_data or default_data)(d, e, config)
             for d, e in zip(datasets, expert_datas)]
    agents = [spec.create(lp.seed, d, config, lp.max_steps, e)
              for lp, d, e in zip(loops, datasets, expert_datas)]
    eval_fn, evaluator = None, None
    if eval_episodes > 0:
        evaluator = evaluation.Evaluator(env_name, len(loops) * eval_episodes,
                                         backend=eval_backend)

        def eval_fn(policy_fn, step):
            with timing.phase("evaluation"):
                groups = evaluation.evaluate_groups(
                    policy_fn, env_name, eval_episodes,
                    [evaluation.eval_seed(lp.seed, step) for lp in loops], evaluator=evaluator)
            for run_dir, (_, episodes) in zip(run_dirs, groups):
                training.write_evaluation_episodes(run_dir, step, episodes)
            return [metrics for metrics, _ in groups]
    start = time.time()
    try:
        if len(loops) == 1:
            single = None if eval_fn is None else (lambda policy, step: eval_fn(policy, step)[0])
            agent, history = training.train_offline(agents[0], datasets[0], spec.update_n,
                                                    spec.policy, single, loops[0], run_dirs[0],
                                                    data=datas[0], desc=agent_name)
            trained, histories = [agent], [history]
        else:
            trained, histories = training.train_offline_seeds(
                agents, datas, spec.update_n, spec.stacked_policy, eval_fn, loops, run_dirs,
                sharding=sharding, desc=agent_name)
    finally:
        if evaluator is not None:
            evaluator.close()
    out = []
    for lp, run_dir, agent, history in zip(loops, run_dirs, trained, histories):
        results = {"env_name": env_name, "seed": lp.seed, "steps": lp.max_steps,
                   "agent": agent_name,
                   "final_normalized_score": history[-1][1] if history else None,
                   "score_last3": (float(np.mean([s for _, s in history[-3:]]))
                                   if history else None),
                   "history": history, "wall_time_s": round(time.time() - start, 1)}
        training.write_results(run_dir, results)
        out.append((results, agent))
    return out


def choose_experts(settings: RunSettings, task: domains.Task, dataset: Dataset
                   ) -> expert_lib.ExpertSelection:
    """The expert trajectories of the sparse or imitation setting (see RunSettings)."""
    k, seed, rule = settings.num_expert, settings.seed, settings.expert_rule()
    if settings.setting == "sparse":
        if rule == "top_return":
            return expert_lib.top_return_trajectories(dataset, k, task.domain.xy,
                                                      task.domain.start_xy, successful_only=True)
        bounds = None
        if rule == "goal_segments":
            goals = domains.load_goals(settings.env_name, dataset_path=settings.dataset_path,
                                       download=settings.download,
                                       max_episode_steps=task.spec.max_episode_steps,
                                       fraction=settings.dataset_fraction, seed=settings.seed)
            bounds = expert_lib.goal_episode_bounds(dataset, goals)
        return expert_lib.select_experts(dataset, k, seed, episode_bounds=bounds)
    name = settings.expert_dataset or domains.default_demonstrations(task.env_name)
    if not name:
        raise SettingsError("--expert_dataset is required with --setting=imitation: a dataset "
                            "name (e.g. a demonstrations name) or an HDF5 file of expert "
                            "trajectories.")
    path = name if Path(name).exists() else None
    try:
        demos = domains.load_dataset(name, dataset_path=path)
    except (DatasetError, DatasetNotFoundError) as err:
        flag = f"--expert_dataset={name}" if settings.expert_dataset else f"demonstrations {name}"
        raise SettingsError(f"{flag}: {err}") from None
    available = len(trajectory_bounds(demos.dones_float)[0])
    if k > available:
        raise SettingsError(f"--num_expert={k}: {name} holds {available} demonstrations; pass "
                            f"--num_expert<={available} or more demonstrations.")
    if settings.expert_selection == "top_return":
        selection = expert_lib.top_return_trajectories(demos, k)
        expert_lib.check_same_dims(selection.dataset, dataset)
        return selection
    return expert_lib.expert_from_demonstrations(demos, k, dataset)


def write_experts(run_dir, selection: expert_lib.ExpertSelection, settings: RunSettings) -> None:
    info = {"segments": selection.segments.tolist(), "message": selection.message,
            "num_transitions": selection.dataset.size, "setting": settings.setting,
            "num_expert": settings.num_expert, "num_expert_used": len(selection.segments),
            "expert_selection": settings.expert_selection,
            "expert_rule": settings.expert_rule()}
    (Path(run_dir) / "experts.json").write_text(json.dumps(info, indent=2))


def label_and_train(settings: RunSettings, task: domains.Task, run_dir: Path,
                    dataset: Dataset, expert: Optional[expert_lib.ExpertSelection],
                    ground_truth: Optional[np.ndarray], eval_episodes: int
                    ) -> Tuple[Dict[str, Any], Any]:
    """The seam: the labeller's rewards replace the dataset's, then the agent trains.

    An imitation learner (`learns_from_demos`) trains on the union of the dataset and
    the demonstrations: the labeller labels that union, and the agent also gets the
    demonstrations themselves.
    """
    labelled, agent_experts, labels = label(settings, task, run_dir, dataset, expert,
                                            ground_truth)
    results, agent = train_agent(labelled, task.env_name, settings.agent,
                                 resolved_agent_config(settings, task.domain).to_dict(),
                                 loop_config(settings, task), run_dir, eval_episodes,
                                 agent_experts)
    return finish_results(settings, run_dir, results, labels, expert), agent


def label(settings: RunSettings, task: domains.Task, run_dir: Path, dataset: Dataset,
          expert: Optional[expert_lib.ExpertSelection], ground_truth: Optional[np.ndarray]
          ) -> Tuple[Dataset, Optional[Dataset], labellers.Labels]:
    """The labeller's half of the seam: (dataset with its rewards, the second source the
    agent samples (demonstrations or SQIL's experts, else None), the labels)."""
    return label_seeds([settings], task, [run_dir], dataset, [expert], ground_truth)[0]


def label_seeds(settings_list: List[RunSettings], task: domains.Task, run_dirs: List[Path],
                dataset: Dataset, experts: List[Optional[expert_lib.ExpertSelection]],
                ground_truth: Optional[np.ndarray]
                ) -> List[Tuple[Dataset, Optional[Dataset], labellers.Labels]]:
    """`label` for several seeds of one run (settings equal but the seed): the
    labeller gets every seed's request at once (`Labeller.label_all`)."""
    settings = settings_list[0]
    spec = AGENTS[settings.agent]
    demos = [None] * len(settings_list)
    datasets, truths = [dataset] * len(settings_list), [ground_truth] * len(settings_list)
    block = expert_block(settings, task, experts[0].dataset if experts[0] else None)
    if spec.learns_from_demos or block is not None:
        demos = [expert.dataset for expert in experts]
        extra = [block] if block is not None else []
        datasets = [concatenate([dataset, d] + extra) for d in demos]
        if ground_truth is not None:
            truths = [np.concatenate([ground_truth, d.rewards] + [b.rewards for b in extra])
                      for d in demos]
        if not spec.learns_from_demos:  # the demonstrations are part of its data only
            demos = [None] * len(settings_list)
    label_experts = [expert.dataset if expert else None for expert in experts]
    agent_config = resolved_agent_config(settings, task.domain)
    absorbing = bool(agent_config.get("absorbing", False))
    if absorbing:
        datasets, truths, demos, label_experts = absorbing_data(
            settings_list, datasets, truths, demos, label_experts,
            agent_config.get("absorbing_actions", "terminal"))
    if settings.reward_file:
        all_labels = [labellers.Labels(storage.load_rewards(settings.reward_file, data),
                                       {"reward_file": settings.reward_file})
                      for data in datasets]
    else:
        config = resolved_labeller_config(settings, task.domain)
        requests = [LabelRequest(dataset=data, expert=expert, config=config, seed=s.seed,
                                 run_dir=run_dir, resume=s.resume, progress=s.progress,
                                 ground_truth=truth, absorbing=absorbing,
                                 title=f"{s.method()} on {task.env_name}, seed {s.seed}")
                    for s, run_dir, data, expert, truth in zip(settings_list, run_dirs,
                                                                datasets, label_experts, truths)]
        all_labels = labellers.get_labeller(settings.labeller).label_all(requests)
    out = []
    for s, run_dir, data, demo, truth, labels in zip(settings_list, run_dirs, datasets, demos,
                                                      truths, all_labels):
        labels.info.update(goal_row_rewards(labels.rewards, truth))
        log_labels(run_dir, s, labels.info)
        print(f"[clue_jax] {s.labeller} rewards (seed {s.seed}): "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in labels.info.items()))
        out.append((data.with_rewards(labels.rewards),
                    demo if demo is not None else labels.expert_data, labels))
    return out


def expert_block(settings: RunSettings, task: domains.Task, demos: Optional[Dataset]
                 ) -> Optional[Dataset]:
    """The expert block beside the K demonstrations: the first N - K trajectories of the
    env's expert dataset (SMODICE's script adds N = 200 expert-v2 trajectories, 100 on
    walker2d, the demonstration among them, to ORIL's and SMODICE's offline data).
    N: --expert_block, else the learner's reference (`AgentSpec.expert_block`). None when
    N = 0, or N <= K (the block is the demonstrations themselves)."""
    spec = AGENTS[settings.agent]
    n = settings.expert_block
    if n is None:
        n = spec.expert_block(settings.env_name) if domains.expert_source(settings.env_name) \
            else 0
    if n == 0 or demos is None:
        return None
    name = domains.expert_source(settings.env_name)
    if name is None:
        raise SettingsError(f"--expert_block={n}: {settings.env_name} has no expert dataset to "
                            "take the block from (gen-<env>-*-v0 and D4RL locomotion names "
                            "have one); pass --expert_block=0.")
    rest = n - len(trajectory_bounds(demos.dones_float)[0])
    if rest <= 0:
        return None
    try:
        source = domains.load_dataset(name, dataset_path=None, download=settings.download)
    except (DatasetError, DatasetNotFoundError) as err:
        raise SettingsError(f"--expert_block={n} reads {name}: {err}") from None
    starts, ends = trajectory_bounds(source.dones_float)
    if rest > len(starts):
        raise SettingsError(f"--expert_block={n}: {name} holds {len(starts)} trajectories, "
                            f"{rest} are needed beside the demonstrations; pass a smaller "
                            "--expert_block.")
    block = source.select(np.arange(ends[rest - 1]))
    print(f"[clue_jax] expert block: the demonstrations and the first {rest} trajectories of "
          f"{name} ({block.size} rows) join the offline data")
    return block


def absorbing_data(settings_list: List[RunSettings], datasets: List[Dataset],
                   truths: List[Optional[np.ndarray]], demos: List[Optional[Dataset]],
                   label_experts: List[Optional[Dataset]], actions: str):
    """Absorbing-state augmentation of the training data, the demonstrations and the
    labeller's experts (`dataset.add_absorbing_states`), before the labeller, so that a
    labeller can score the absorbing rows as the learner's reference does. `actions`:
    'terminal' (every absorbing row repeats its terminal's action) or 'zeros_random'
    (ValueDICE's code: zeros on the demonstrations, uniform random on the union, drawn
    with the run's seed)."""
    union_actions, demo_actions = (("random", "zeros") if actions == "zeros_random"
                                   else ("terminal", "terminal"))
    out_data, out_truths = [], []
    for s, data, truth in zip(settings_list, datasets, truths):
        widened = add_absorbing_states(data, union_actions, np.random.default_rng(s.seed))
        out_data.append(widened)
        if truth is not None:  # the real rows keep their order; absorbing rows get 0
            truth_rows = np.zeros(widened.size, np.float32)
            truth_rows[real_rows(widened.observations)] = truth
            truth = truth_rows
        out_truths.append(truth)
    widen = lambda d: None if d is None else add_absorbing_states(d, demo_actions)  # noqa: E731
    return out_data, out_truths, [widen(d) for d in demos], [widen(d) for d in label_experts]


def finish_results(settings: RunSettings, run_dir: Path, results: Dict[str, Any],
                   labels: labellers.Labels, expert: Optional[expert_lib.ExpertSelection]
                   ) -> Dict[str, Any]:
    """results.json completed with the labeller, its summary and the experts."""
    results.update({"labeller": settings.labeller, "labels": labels.info,
                    "method": settings.method()})
    if expert is not None:
        results["experts"] = expert.message
        results["num_expert_used"] = len(expert.segments)
    training.write_results(run_dir, results)
    return results


def goal_row_rewards(rewards: np.ndarray, ground_truth: Optional[np.ndarray]
                     ) -> Dict[str, float]:
    """Mean labelled reward on the rows whose true (sparse) reward is positive vs the rest.

    A labeller whose rewards are lower where the task is achieved than elsewhere
    invites a policy that loops instead of arriving; empty when there is no ground
    truth or it has no positive row.
    """
    if ground_truth is None:
        return {}
    goal = np.asarray(ground_truth) > 0
    if not goal.any() or goal.all():
        return {}
    rewards = np.asarray(rewards, np.float64)
    return {"goal_rows_reward_mean": float(rewards[goal].mean()),
            "other_rows_reward_mean": float(rewards[~goal].mean()),
            "goal_rows": int(goal.sum())}


def log_labels(run_dir: Path, settings: RunSettings, info: Dict[str, Any]) -> None:
    """The labelling summary, once, as TensorBoard stream tb/labels (tags labels/<name>, step 0).

    A resumed run relabels (or restores) and logs again; its writer purges the
    earlier point, so each tag keeps one.
    """
    scalars = {f"labels/{k}": float(v) for k, v in info.items()
               if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)}
    if not scalars:
        return
    logger = RunLogger(run_dir, settings.seed, resumed_from=-1 if settings.resume else None,
                       stream="labels")
    logger.log(scalars, 0)
    logger.close()


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
    if (settings.setting == "imitation" and needs_demos and not name
            and not domains.default_demonstrations(settings.env_name)):
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


def provenance() -> Dict[str, Any]:
    """What produced a run: the git commit (and whether the tree had changes), package
    versions and the device, for config.json (never compared on --resume)."""
    import importlib.metadata
    import subprocess

    import jax
    root = Path(__file__).resolve().parents[2]
    out: Dict[str, Any] = {}
    try:
        out["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, text=True,
                                       capture_output=True, timeout=10).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, text=True, capture_output=True, timeout=10).stdout
        out["uncommitted_changes"] = bool(status.strip()) if out["commit"] else None
    except (OSError, subprocess.SubprocessError):
        out["commit"] = out["uncommitted_changes"] = None
    versions = {}
    for package in ("clue-jax", "jax", "jaxlib", "flax", "optax", "numpy", "mujoco",
                    "gymnasium", "gymnasium-robotics", "ott-jax"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    out["versions"] = versions
    device = jax.devices()[0]
    out["device"] = f"{device.platform}: {device.device_kind} (x{jax.device_count()})"
    return out


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


def settings_differences(stored: Dict[str, Any], new: Dict[str, Any]) -> List[str]:
    """'key: stored -> new' for every value that differs, except RESUME_FREE settings."""
    old = _flatten(stored)
    now = _flatten(json.loads(json.dumps(new, default=str)))
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
