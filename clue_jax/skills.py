"""CLUE's unsupervised setting: K-means clusters of (s, a, s') as experts, one skill each.

For every chosen cluster: the cluster's transitions are the expert data, a
calibrated CVAE labels the whole dataset with Eq. 6 rewards, IQL learns that
skill's policy, and a few deterministic rollouts describe what the policy does.
The run writes skills.json, skills.md (a table a person can read) and
skills.png (per-skill motion), next to one sub-folder per skill.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from clue_jax import clue_run, pipeline, training
from clue_jax.data import experts as expert_lib
from clue_jax.data.dataset import Dataset

# Where an env family's observation holds position (xy) or forward velocity.
XY_FAMILIES = {"antmaze": slice(0, 2), "gen-pointmaze": slice(0, 2), "maze2d": slice(0, 2)}
VELOCITY_INDEX = {"hopper": [5], "halfcheetah": [8], "walker2d": [8], "ant": [13, 14]}


def parse_skills(text: str, n_clusters: int) -> List[int]:
    """'all' or comma-separated cluster ids, each checked against n_clusters."""
    if text.strip() == "all":
        return list(range(n_clusters))
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--skills={text!r}: expected 'all' or comma-separated integers.")
    bad = [i for i in ids if not 0 <= i < n_clusters]
    if bad or not ids:
        raise ValueError(f"--skills={text!r}: cluster ids must lie in [0, {n_clusters}); "
                         f"got {bad or 'none'}.")
    return ids


def rollout_observations(policy_fn, env_name: str, episodes: int, seed: int) -> List[np.ndarray]:
    """Observation sequences (T_i + 1, obs_dim) of deterministic episodes, stepped together."""
    from clue_jax import evaluation
    from clue_jax.envs import registry
    seeds = [seed + i for i in range(episodes)]
    envs = [registry.make_env(env_name, s) for s in seeds]
    try:
        out = evaluation.run_episodes(policy_fn, envs, seeds, registry.get_spec(env_name).act_dim,
                                      record=True)
    finally:
        for env in envs:
            env.close()
    return out["observations"]


def describe(paths: Sequence[np.ndarray], spec) -> Dict[str, Any]:
    """What a skill's policy does: mean velocity (and heading where xy is observed)."""
    lengths = [len(p) - 1 for p in paths]
    if spec.family in XY_FAMILIES:
        xy = XY_FAMILIES[spec.family]
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


def train_skill(flags, spec, dataset: Dataset, expert: Dataset, cluster: int, iql_config,
                clue_config, loop: training.LoopConfig, run_dir: Path) -> Dict[str, Any]:
    """CVAE -> rewards -> IQL for one cluster; returns its summary row."""
    training.prepare_run_dir(run_dir, {"cluster": cluster, "clue": clue_config.to_dict(),
                                       "iql": iql_config.to_dict()}, loop.resume)
    state = clue_run.fit_cvae(clue_config, dataset, expert, loop.seed, run_dir,
                              resume=loop.resume, progress=loop.progress)
    relabelled, info = clue_run.label(clue_config, state, dataset, expert, run_dir, loop.seed)
    results, agent = pipeline.run_iql(relabelled, flags.env_name, iql_config.to_dict(), loop,
                                      run_dir, eval_episodes=0)
    paths = rollout_observations(pipeline.iql_policy(agent), flags.env_name,
                                 max(flags.eval_episodes, 1), loop.seed)
    np.savez_compressed(run_dir / "rollouts.npz", *paths)
    return {"skill": cluster, "cluster_size": expert.size, **describe(paths, spec),
            "raw_reward_mean": info["raw_reward_mean"], "wall_time_s": results["wall_time_s"]}


def write_summary(run_dir: Path, rows: List[Dict[str, Any]], spec) -> None:
    """skills.json, skills.md and skills.png."""
    (run_dir / "skills.json").write_text(json.dumps(rows, indent=2))
    keys = [k for k in rows[0] if k not in ("wall_time_s",)]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k)) for k in keys) + " |" for r in rows]
    (run_dir / "skills.md").write_text(f"# Skills learned by CLUE on {spec.name}\n\n"
                                       + "\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 5))
    for r in rows:
        with np.load(run_dir / f"skill_{r['skill']}" / "rollouts.npz") as f:
            for i, name in enumerate(f.files):
                p = f[name]
                if spec.family in XY_FAMILIES:
                    ax.plot(p[:, 0], p[:, 1], color=f"C{r['skill'] % 10}", alpha=0.7,
                            label=f"skill {r['skill']}" if i == 0 else None)
                else:
                    idx = VELOCITY_INDEX.get(spec.name.split("-")[0], [0])[0]
                    ax.plot(p[:, idx], color=f"C{r['skill'] % 10}", alpha=0.7,
                            label=f"skill {r['skill']}" if i == 0 else None)
    ax.set_title(f"CLUE skills on {spec.name}")
    ax.set_xlabel("x" if spec.family in XY_FAMILIES else "step")
    ax.set_ylabel("y" if spec.family in XY_FAMILIES else "forward velocity")
    ax.legend(fontsize=7)
    fig.savefig(run_dir / "skills.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(flags, spec, dataset: Dataset, iql_config, clue_config, loop: training.LoopConfig):
    """The unsupervised setting end to end; returns the summary rows."""
    dataset = clue_run.discard_rewards(dataset)
    run_dir = pipeline.run_dir_for(flags.save_dir, "clue-unsupervised", flags.env_name, flags.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    labels_path = run_dir / "kmeans_labels.npy"
    if loop.resume and labels_path.exists():
        labels = np.load(labels_path)
    else:
        labels = expert_lib.kmeans_clusters(dataset, n_clusters=flags.n_clusters)
        np.save(labels_path, labels)
    rows = []
    for cluster in parse_skills(flags.skills, flags.n_clusters):
        expert = expert_lib.cluster_experts(dataset, labels, cluster)
        rows.append(train_skill(flags, spec, dataset, expert, cluster, iql_config, clue_config,
                                loop, run_dir / f"skill_{cluster}"))
        write_summary(run_dir, rows, spec)
        print(f"[train_clue] skill {cluster}: {rows[-1]}")
    return rows
