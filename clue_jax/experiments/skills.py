"""CLUE's unsupervised setting: K-means clusters of (s, a, s') as experts, one skill each.

For every chosen cluster: the cluster's transitions are the expert data, the
run's labeller (CLUE: a calibrated CVAE and Eq. 6 rewards) labels the whole
dataset through the same seam as the other settings, IQL learns that skill's
policy, and a few deterministic rollouts describe what the policy does.
The run writes skills.json, skills.md (a table a person can read) and
skills.png (per-skill motion), next to one sub-folder per skill.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from clue_jax import evaluation, training
from clue_jax.data import experts as expert_lib
from clue_jax.data.dataset import Dataset
from clue_jax.envs import layout, registry
from clue_jax.experiments import checks, domains, records, runner
from clue_jax.experiments.agents import AGENTS
from clue_jax.experiments.plan import RunPlan
from clue_jax.experiments.settings import parse_skills

# Where a locomotion observation holds forward velocity (xy: the domain table's `xy`).
VELOCITY_INDEX = {"hopper": [5], "halfcheetah": [8], "walker2d": [8], "ant": [13, 14]}


def rollout_observations(policy_fn, env_name: str, episodes: int, seed: int) -> List[np.ndarray]:
    """Observation sequences (T_i + 1, obs_dim) of deterministic episodes, stepped together."""
    seeds = [seed + i for i in range(episodes)]
    envs = [registry.make_env(env_name, s) for s in seeds]
    try:
        out = evaluation.run_episodes(policy_fn, envs, seeds, registry.get_spec(env_name).act_dim,
                                      record=True)
    finally:
        for env in envs:
            env.close()
    return out["observations"]


def _xy(spec) -> Optional[slice]:
    cols = domains.domain_of(spec).xy
    return None if cols is None else slice(*cols)


def describe(paths: Sequence[np.ndarray], spec) -> Dict[str, Any]:
    """What a skill's policy does: mean velocity (and heading where xy is observed)."""
    lengths = [len(p) - 1 for p in paths]
    xy = _xy(spec)
    if xy is not None:
        disp = np.stack([p[-1, xy] - p[0, xy] for p in paths])
        vel = disp / np.maximum(np.asarray(lengths)[:, None], 1)
        mean = vel.mean(0)
        return {"mean_velocity_xy": mean.round(4).tolist(),
                "heading_deg": float(np.degrees(np.arctan2(mean[1], mean[0]))),
                "final_xy": np.stack([p[-1, xy] for p in paths]).mean(0).round(3).tolist(),
                "episode_length": float(np.mean(lengths))}
    key = next((k for k in VELOCITY_INDEX if spec.name.startswith(k) or f"-{k}-" in spec.name), None)
    if key is None:
        return {"episode_length": float(np.mean(lengths))}
    vel = np.concatenate([p[1:, VELOCITY_INDEX[key]] for p in paths]).mean(0)
    out = {"mean_velocity": vel.round(4).tolist(), "episode_length": float(np.mean(lengths))}
    if len(vel) == 2:
        out["heading_deg"] = float(np.degrees(np.arctan2(vel[1], vel[0])))
    return out


def train_skill(plan: RunPlan, task: domains.Task, dataset: Dataset, expert: Dataset,
                cluster: int) -> Dict[str, Any]:
    """Label with the cluster as experts, train IQL, roll out; returns its summary row.
    `plan.run_dir` is the skill's own folder."""
    settings = plan.settings
    training.prepare_run_dir(plan.run_dir, {
        "cluster": cluster, "settings": settings.to_dict(),
        "labeller_config": plan.labeller_config_copy().to_dict(),
        settings.agent: plan.agent_config_dict()}, settings.resume)
    selection = expert_lib.ExpertSelection(expert, np.zeros((0, 2), np.int64),
                                           f"K-means cluster {cluster}")
    results, agent = runner.label_and_train(plan, task, dataset, selection, None,
                                            eval_episodes=0)
    paths = rollout_observations(AGENTS[settings.agent].policy(agent), settings.env_name,
                                 max(settings.eval_episodes, 1), settings.seed)
    np.savez_compressed(plan.run_dir / "rollouts.npz", *paths)
    return {"skill": cluster, "cluster_size": expert.size, **describe(paths, task.spec),
            "raw_reward_mean": results["labels"].get("raw_reward_mean"),
            "wall_time_s": results["wall_time_s"]}


def write_summary(run_dir: Path, rows: List[Dict[str, Any]], spec, method: str = "") -> None:
    """skills.json, skills.md and skills.png (maze envs: paths over the maze's walls, each
    rollout's start and end marked, equal axes)."""
    (run_dir / "skills.json").write_text(json.dumps(rows, indent=2))
    keys = [k for k in rows[0] if k not in ("wall_time_s",)]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k)) for k in keys) + " |" for r in rows]
    (run_dir / "skills.md").write_text(f"# Skills learned by CLUE on {spec.name}\n\n"
                                       + "\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xy, maze = _xy(spec), layout.maze_layout(spec.name)
    fig, ax = plt.subplots(figsize=(6, 5))
    if maze is not None:
        layout.draw_maze(ax, maze._replace(goal=None, start=None))  # skills have no task goal
    for r in rows:
        color = f"C{r['skill'] % 10}"
        with np.load(run_dir / f"skill_{r['skill']}" / "rollouts.npz") as f:
            for i, name in enumerate(f.files):
                p = f[name]
                label = f"skill {r['skill']}" if i == 0 else None
                if xy is not None:
                    path = p[:, xy]
                    ax.plot(path[:, 0], path[:, 1], color=color, alpha=0.7, label=label)
                    ax.plot(*path[0], marker="o", color=color, markersize=5)
                    ax.plot(*path[-1], marker="X", color=color, markersize=8,
                            markeredgecolor="k")
                else:
                    idx = VELOCITY_INDEX.get(spec.name.split("-")[0], [0])[0]
                    ax.plot(p[:, idx], color=color, alpha=0.7, label=label)
    ax.set_title(f"{method or 'CLUE skills'} on {spec.name}: {len(rows)} skills"
                 + (" (o start, X end)" if xy is not None else ""), fontsize=9)
    ax.set_xlabel("x" if xy is not None else "step")
    ax.set_ylabel("y" if xy is not None else "forward velocity")
    if xy is not None and maze is None:
        ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7)
    fig.savefig(run_dir / "skills.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(plan: RunPlan, task: domains.Task) -> List[Dict[str, Any]]:
    """The unsupervised setting end to end; returns the summary rows."""
    settings, run_dir = plan.settings, plan.run_dir
    dataset = runner.discard_rewards(task.dataset)
    record = {"method": plan.method, "settings": settings.to_dict(),
              settings.agent: plan.agent_config_dict(),
              "labeller_config": plan.labeller_config_copy().to_dict(),
              "dataset_size": dataset.size,
              "skills": parse_skills(settings.skills, settings.n_clusters)}
    checks.check_resume(run_dir, record, settings)
    record["provenance"] = records.provenance(task.env_name, task.dataset)
    training.prepare_run_dir(run_dir, record, settings.resume)
    labels_path = run_dir / "kmeans_labels.npy"
    if settings.resume and labels_path.exists():
        labels = np.load(labels_path)
    else:
        labels = expert_lib.kmeans_clusters(dataset, n_clusters=settings.n_clusters)
        np.save(labels_path, labels)
    rows = []
    for cluster in parse_skills(settings.skills, settings.n_clusters):
        expert = expert_lib.cluster_experts(dataset, labels, cluster)
        rows.append(train_skill(dataclasses.replace(plan, run_dir=run_dir / f"skill_{cluster}"),
                                task, dataset, expert, cluster))
        write_summary(run_dir, rows, task.spec, plan.method)
        print(f"[clue_jax] skill {cluster}: {rows[-1]}")
    return rows
