"""The pipeline of a run, from its plan: experts -> labeller -> agent -> training loop.

    plan = make_plan(settings)               # experiments/plan.py: checked, resolved once
    labelled = label_seeds([plan], task, dataset, [choose_experts(plan, task, dataset)], truth)

This is where a labeller meets the agent (`label_seeds`, `train_agents`): the labeller's
rewards replace the dataset's, and the agent trains on that dataset without knowing
where its rewards came from. train_iql.py, train_clue.py and reproduce.py all come here
(through `experiments.run` / `group.run_group`). Checks live in checks.py, what a run
writes about itself in records.py.
"""

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from clue_jax import evaluation, timing, training
from clue_jax.data import experts as expert_lib
from clue_jax.data.d4rl_io import DatasetNotFoundError
from clue_jax.data.dataset import (Dataset, DatasetError, add_absorbing_states, concatenate,
                                   real_rows, trajectory_bounds)
from clue_jax.experiments import domains, records
from clue_jax.experiments.agents import AGENTS, default_data
from clue_jax.experiments.plan import RunPlan
from clue_jax.experiments.settings import SettingsError
from clue_jax.rewards import labellers, storage
from clue_jax.rewards.base import LabelRequest


def discard_rewards(dataset: Dataset) -> Dataset:
    """Reward-free data: the file's rewards are replaced by NaN so any later read shows."""
    return dataset.replace(rewards=np.full(dataset.size, np.nan, np.float32))


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
                timing.count("eval_env_steps", int(np.sum(episodes["lengths"])))
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


def choose_experts(plan: RunPlan, task: domains.Task, dataset: Dataset
                   ) -> expert_lib.ExpertSelection:
    """The expert trajectories of the sparse or imitation setting (`plan.experts`)."""
    settings = plan.settings
    k, seed, rule = plan.experts.num_expert, settings.seed, plan.experts.rule
    if plan.experts.setting == "sparse":
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
    name = plan.experts.demonstrations
    if not name:
        raise SettingsError("--expert_dataset is required with --setting=imitation: a dataset "
                            "name (e.g. a demonstrations name) or an HDF5 file of expert "
                            "trajectories.")
    try:
        demos = domains.load_demonstrations(name)
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


def label_and_train(plan: RunPlan, task: domains.Task, dataset: Dataset,
                    expert: Optional[expert_lib.ExpertSelection],
                    ground_truth: Optional[np.ndarray], eval_episodes: int
                    ) -> Tuple[Dict[str, Any], Any]:
    """The seam: the labeller's rewards replace the dataset's, then the agent trains.

    An imitation learner (`learns_from_demos`) trains on the union of the dataset and
    the demonstrations: the labeller labels that union, and the agent also gets the
    demonstrations themselves.
    """
    (labelled, agent_experts, labels), = label_seeds([plan], task, dataset, [expert],
                                                     ground_truth)
    results, agent = train_agent(labelled, task.env_name, plan.settings.agent,
                                 plan.agent_config_dict(), plan.loop, plan.run_dir,
                                 eval_episodes, agent_experts)
    return records.finish_results(plan.settings, plan.run_dir, results, labels, expert), agent


def label_seeds(plans: Sequence[RunPlan], task: domains.Task, dataset: Dataset,
                experts: Sequence[Optional[expert_lib.ExpertSelection]],
                ground_truth: Optional[np.ndarray]
                ) -> List[Tuple[Dataset, Optional[Dataset], labellers.Labels]]:
    """The labeller's half of the seam, for runs that share the labeller, its config (but
    its `labelling_fields`; each request carries its run's own) and the learner
    (`group.run_group` partitions them so): per run (dataset with its rewards,
    the second source the agent samples (demonstrations or SQIL's experts, else None),
    the labels). The labeller gets every run's request at once (`Labeller.label_all`)."""
    plan = plans[0]
    settings = plan.settings
    spec = AGENTS[settings.agent]
    demos = [None] * len(plans)
    datasets, truths = [dataset] * len(plans), [ground_truth] * len(plans)
    # Demonstrations from outside the dataset (the imitation setting) join the data beside
    # an expert block; the sparse and unsupervised settings' experts are rows of the data.
    external = settings.setting == "imitation"
    block = expert_block(plan, task, experts[0].dataset if external and experts[0] else None)
    if spec.learns_from_demos or block is not None:
        demos = [expert.dataset if expert else None for expert in experts]
        joined = demos if spec.learns_from_demos or external else [None] * len(plans)
        extra = [block] if block is not None else []
        parts = [[d] + extra if d is not None else extra for d in joined]
        datasets = [concatenate([dataset] + p) for p in parts]
        if ground_truth is not None:
            truths = [np.concatenate([ground_truth] + [x.rewards for x in p]) for p in parts]
        if not spec.learns_from_demos:  # the demonstrations are part of its data only
            demos = [None] * len(plans)
    label_experts = [expert.dataset if expert else None for expert in experts]
    absorbing = bool(plan.agent_config.get("absorbing", False))
    if absorbing:
        datasets, truths, demos, label_experts = absorbing_data(
            [p.settings.seed for p in plans], datasets, truths, demos, label_experts,
            plan.agent_config.get("absorbing_actions", "terminal"))
    if settings.reward_file:
        all_labels = [labellers.Labels(storage.load_rewards(settings.reward_file, data),
                                       {"reward_file": settings.reward_file})
                      for data in datasets]
    else:
        requests = [LabelRequest(dataset=data, expert=expert, config=p.labeller_config_copy(),
                                 seed=p.settings.seed, run_dir=p.run_dir,
                                 resume=p.settings.resume, progress=p.settings.progress,
                                 ground_truth=truth, absorbing=absorbing,
                                 deadline=p.settings.deadline, env_name=task.env_name,
                                 title=f"{p.method} on {task.env_name}, seed {p.settings.seed}")
                    for p, data, expert, truth in zip(plans, datasets, label_experts, truths)]
        all_labels = labellers.get_labeller(settings.labeller).label_all(requests)
    out = []
    for p, data, demo, truth, labels in zip(plans, datasets, demos, truths, all_labels):
        s = p.settings
        labels.info.update(records.goal_row_rewards(labels.rewards, truth))
        records.log_labels(p.run_dir, s, labels.info)
        print(f"[clue_jax] {s.labeller} rewards (seed {s.seed}): "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in labels.info.items()))
        out.append((data.with_rewards(labels.rewards),
                    demo if demo is not None else labels.expert_data, labels))
    return out


def expert_block(plan: RunPlan, task: domains.Task, demos: Optional[Dataset]
                 ) -> Optional[Dataset]:
    """The expert block beside the K demonstrations: the first N - K trajectories of the
    env's expert dataset (SMODICE's script adds N = 200 expert-v2 trajectories, 100 on
    walker2d, the demonstration among them, to ORIL's and SMODICE's offline data).
    N: `plan.experts.block` (--expert_block, else the learner's reference,
    `AgentSpec.expert_block`). `demos`: the K demonstrations that join the data, None for
    none (K = 0: a run on the true rewards, or experts that are rows of the dataset; the
    block is then the first N trajectories). None when N = 0, or N <= K (the block is the
    demonstrations themselves)."""
    n, name = plan.experts.block, plan.experts.block_source
    if n == 0:
        return None
    rest = n - (len(trajectory_bounds(demos.dones_float)[0]) if demos is not None else 0)
    if rest <= 0:
        return None
    try:
        source = domains.load_dataset(name, dataset_path=None, download=plan.settings.download)
    except (DatasetError, DatasetNotFoundError) as err:
        raise SettingsError(f"--expert_block={n} reads {name}: {err}") from None
    starts, ends = trajectory_bounds(source.dones_float)
    if rest > len(starts):
        needed = f"{rest} are needed beside the demonstrations" if demos is not None else \
            f"{rest} are needed"
        raise SettingsError(f"--expert_block={n}: {name} holds {len(starts)} trajectories, "
                            f"{needed}; pass a smaller --expert_block.")
    block = source.select(np.arange(ends[rest - 1]))
    beside = "the demonstrations and " if demos is not None else ""
    print(f"[clue_jax] expert block: {beside}the first {rest} trajectories of "
          f"{name} ({block.size} rows) join the offline data")
    return block


def absorbing_data(seeds: Sequence[int], datasets: List[Dataset],
                   truths: List[Optional[np.ndarray]], demos: List[Optional[Dataset]],
                   label_experts: List[Optional[Dataset]], actions: str):
    """Absorbing-state augmentation of the training data, the demonstrations and the
    labeller's experts (`dataset.add_absorbing_states`), before the labeller, so that a
    labeller can score the absorbing rows as the learner's reference does. `actions`:
    'terminal' (every absorbing row repeats its terminal's action) or 'zeros_random'
    (ValueDICE's code: zeros on the demonstrations, uniform random on the union, drawn
    with each run's seed)."""
    union_actions, demo_actions = (("random", "zeros") if actions == "zeros_random"
                                   else ("terminal", "terminal"))
    out_data, out_truths = [], []
    for seed, data, truth in zip(seeds, datasets, truths):
        widened = add_absorbing_states(data, union_actions, np.random.default_rng(seed))
        out_data.append(widened)
        if truth is not None:  # the real rows keep their order; absorbing rows get 0
            truth_rows = np.zeros(widened.size, np.float32)
            truth_rows[real_rows(widened.observations)] = truth
            truth = truth_rows
        out_truths.append(truth)
    widen = lambda d: None if d is None else add_absorbing_states(d, demo_actions)  # noqa: E731
    return out_data, out_truths, [widen(d) for d in demos], [widen(d) for d in label_experts]


