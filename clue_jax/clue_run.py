"""CLUE's stages for train_clue.py: experts -> CVAE -> rewards (+ figures) -> IQL.

Every stage writes its output into the run folder (experts.json,
cvae.msgpack, rewards.npz, figures) so that `--resume` skips finished stages
and `train_iql.py --reward_file=<run>/rewards.npz` reuses the rewards.
"""

import json
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import jax
import numpy as np

from clue_jax.data import experts as expert_lib
from clue_jax.data.dataset import Dataset
from clue_jax.logging import RunLogger
from clue_jax.rewards import clue, labelling, storage

SETTINGS = ("sparse", "imitation", "unsupervised")
CLUE_DOMAINS = {"antmaze": "antmaze", "gen-pointmaze": "pointmaze", "maze2d": "pointmaze",
                "locomotion": "locomotion", "gen-locomotion": "locomotion", "adroit": "adroit"}


def clue_domain(spec) -> str:
    """The configs/clue_config.py domain for an env family."""
    return CLUE_DOMAINS[spec.family]


def discard_rewards(dataset: Dataset) -> Dataset:
    """Reward-free data: the file's rewards are replaced by NaN so any later read shows."""
    return dataset.replace(rewards=np.full(dataset.size, np.nan, np.float32))


def default_demonstrations(env_name: str) -> Optional[str]:
    """The project's own demonstrations for a generated dataset name, else None.

    gen-{hopper,halfcheetah,walker2d}-*-v0 -> gen-{env}-expert-demos-v0 (the
    shipped SAC expert); gen-pointmaze-{maze}-*-v0 -> gen-pointmaze-{maze}-demos-v0.
    D4RL names have none: pass --expert_dataset.
    """
    from clue_jax.data import pointmaze_datasets
    from clue_jax.envs import locomotion
    parts = env_name.split("-")
    if len(parts) < 3 or parts[0] != "gen":
        return None
    if parts[1] in locomotion.ENVS:
        return locomotion.demos_name(parts[1])
    if parts[1] == "pointmaze":
        return pointmaze_datasets.demos_name(parts[2])
    return None


def choose_experts(setting: str, dataset: Dataset, num_expert: int, seed: int,
                   expert_dataset: Optional[str] = None) -> expert_lib.ExpertSelection:
    """Expert data for the sparse or imitation setting.

    Args:
        dataset: the unlabelled dataset (sparse: with its own 0/1 rewards).
        expert_dataset: imitation only, a dataset name or an HDF5 path of demonstrations.
    """
    if setting == "sparse":
        return expert_lib.select_experts(dataset, num_expert, seed)
    if setting == "imitation":
        if not expert_dataset:
            raise ValueError("--expert_dataset is required with --setting=imitation: a dataset "
                             "name (e.g. a demonstrations name) or an HDF5 file of expert "
                             "trajectories.")
        from clue_jax.data import factory
        path = expert_dataset if os.path.exists(expert_dataset) else None
        demos = factory.load_dataset(expert_dataset, dataset_path=path)
        return expert_lib.expert_from_demonstrations(demos, num_expert, dataset)
    raise ValueError(f"--setting={setting!r}: expected one of {SETTINGS}.")


def write_experts(run_dir, selection: expert_lib.ExpertSelection, extra: Dict[str, Any]) -> None:
    info = {"segments": selection.segments.tolist(), "message": selection.message,
            "num_transitions": selection.dataset.size, **extra}
    (Path(run_dir) / "experts.json").write_text(json.dumps(info, indent=2))


def fit_cvae(config, dataset: Dataset, expert: Dataset, seed: int, run_dir, *,
             resume: bool = False, progress: bool = True, chunk: int = 1000,
             name: str = "cvae.msgpack") -> clue.CLUEState:
    """Train (or, with resume, restore) the calibrated CVAE; logs clue/* scalars."""
    from tqdm import tqdm

    from clue_jax.data.dataset import to_device
    state = clue.create_clue_state(config, dataset, seed)
    path = Path(run_dir) / name
    if resume and path.exists():
        print(f"[train_clue] CVAE restored from {path}")
        return storage.restore_cvae(path, state)
    data, expert_data = to_device(dataset), to_device(expert)
    logger = RunLogger(run_dir, seed)
    total = int(config.num_steps)
    with tqdm(total=total, disable=not progress, desc="CVAE", unit="upd", dynamic_ncols=True) as bar:
        done = 0
        while done < total:
            n = min(chunk, total - done)
            state, info = clue.train_cvae(state, data, expert_data, num_steps=n)
            done += n
            info = {k: float(v) for k, v in jax.device_get(info).items()}
            logger.log({f"clue/{k}": v for k, v in info.items()}, done)
            bar.update(n)
            bar.set_postfix({"loss": f"{info['cvae_loss']:.3f}",
                             "calib": f"{info['calibration_loss']:.3f}"}, refresh=False)
    logger.close()
    storage.save_cvae(path, state)
    return state


def label(config, state: clue.CLUEState, dataset: Dataset, expert: Dataset, run_dir,
          seed: int) -> Tuple[Dataset, Dict[str, float]]:
    """Eq. 6 rewards for every transition, post-processed for IQL, saved to rewards.npz."""
    key = None if config.use_mean else jax.random.PRNGKey(seed)
    relabelled, info = labelling.relabel_dataset(state.model, dataset, expert, config, key=key)
    storage.save_rewards(Path(run_dir) / "rewards.npz", relabelled.rewards, dataset,
                         metadata={"temperature": config.temperature, "use_mean": config.use_mean,
                                   "reward_scaling": config.reward_scaling,
                                   "reward_shift": config.reward_shift, **info})
    logger = RunLogger(run_dir, seed)
    logger.log({f"clue/{k}": v for k, v in info.items()}, 0)
    logger.close()
    return relabelled, info


def figures(state: clue.CLUEState, dataset: Dataset, expert: Dataset, config, run_dir,
            ground_truth: Optional[np.ndarray], uncalibrated: Optional[clue.CLUEState] = None,
            max_points: int = 20000) -> Dict[str, float]:
    """latent_embeddings.png (Fig. 2) and, with ground truth, reward_correlation.png (Fig. 7)."""
    from clue_jax.rewards import plots

    rng = np.random.default_rng(0)
    rows = rng.choice(dataset.size, size=min(max_points, dataset.size), replace=False)
    panels = {}
    for title, st in (("CLUE (calibrated)", state), ("CVAE without calibration", uncalibrated)):
        if st is None:
            continue
        z_exp, _ = labelling.encode_dataset(st.model, expert.observations, expert.actions)
        z_all, _ = labelling.encode_dataset(st.model, dataset.observations[rows],
                                            dataset.actions[rows])
        panels[title] = (z_exp, z_all)
    plots.plot_latent_embeddings(Path(run_dir) / "latent_embeddings.png", panels)
    out = {}
    if ground_truth is not None:
        z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
        raw = labelling.label_rewards(state.model, dataset.observations[rows],
                                      dataset.actions[rows], z_e, config.temperature)
        out["spearman"] = plots.plot_reward_correlation(
            Path(run_dir) / "reward_correlation.png", raw, ground_truth[rows])
    return out
