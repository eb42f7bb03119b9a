"""CLUE as a labeller: calibrated CVAE (paper Eq. 4-5, 7) -> Eq. 6 rewards (+ figures).

Each stage writes into the run folder: cvae.msgpack (restored on resume),
rewards.npz (reusable with `train_iql.py --reward_file`), clue/* scalars,
latent_embeddings.png (Fig. 2) and, with ground-truth rewards,
reward_correlation.png (Fig. 7).
"""

from pathlib import Path
from typing import Dict, Optional

import jax
import numpy as np
from tqdm import tqdm

from clue_jax.data.dataset import Dataset, to_device
from clue_jax.logging import RunLogger
from clue_jax.rewards import clue, labelling, plots, storage
from clue_jax.rewards.base import REWARD_FILE, LabelRequest, Labels


def label(request: LabelRequest) -> Labels:
    """Train (or restore) the CVAE on dataset + experts, then label every transition."""
    cfg, data, expert = request.config, request.dataset, request.expert
    state = fit_cvae(cfg, data, expert, request.seed, request.run_dir, resume=request.resume,
                     progress=request.progress)
    key = None if cfg.use_mean else jax.random.PRNGKey(request.seed)
    relabelled, info = labelling.relabel_dataset(state.model, data, expert, cfg, key=key)
    storage.save_rewards(Path(request.run_dir) / REWARD_FILE, relabelled.rewards, data,
                         metadata={"temperature": cfg.temperature, "use_mean": cfg.use_mean,
                                   "reward_scaling": cfg.reward_scaling,
                                   "reward_shift": cfg.reward_shift, **info})
    uncalibrated = None
    if cfg.compare_uncalibrated and cfg.calibrate:
        plain = cfg.copy_and_resolve_references()
        plain.calibrate = False
        uncalibrated = fit_cvae(plain, data, expert, request.seed, request.run_dir,
                                resume=request.resume, progress=request.progress,
                                name="cvae_uncalibrated.msgpack")
    info.update(figures(state, data, expert, cfg, request.run_dir, request.ground_truth,
                        uncalibrated, title=request.title))
    return Labels(relabelled.rewards, info)


CVAE_CHECKPOINT_EVERY = 5  # chunks (of `chunk` updates) between mid-training checkpoints


def fit_cvae(config, dataset: Dataset, expert: Dataset, seed: int, run_dir, *,
             resume: bool = False, progress: bool = True, chunk: int = 1000,
             name: str = "cvae.msgpack") -> clue.CLUEState:
    """Train (or, with resume, restore) the calibrated CVAE; logs clue/* scalars.

    The learner is checkpointed every CVAE_CHECKPOINT_EVERY chunks to
    `<name>.partial` (params, Adam state, step, rng); with `resume` a killed
    training continues from there to the same CVAE as an uninterrupted one.
    The finished CVAE is `<name>`, and the partial file is removed.
    """
    state = clue.create_clue_state(config, dataset, seed)
    path = Path(run_dir) / name
    partial = path.with_name(path.name + ".partial")
    if resume and path.exists():
        print(f"[clue_jax] CVAE restored from {path}")
        return storage.restore_cvae(path, state)
    done = 0
    if resume and partial.exists():
        state = storage.restore_cvae(partial, state)
        done = int(state.train_state.step)
        print(f"[clue_jax] CVAE training continues from update {done} ({partial})")
    data, expert_data = to_device(dataset), to_device(expert)
    stream = "cvae" if name == "cvae.msgpack" else name.split(".")[0]
    logger = RunLogger(run_dir, seed, resumed_from=done or None, stream=stream)
    total = int(config.num_steps)
    with tqdm(total=total, initial=done, disable=not progress, desc="CVAE", unit="upd",
              dynamic_ncols=True) as bar:
        chunks = 0
        while done < total:
            n = min(chunk, total - done)
            state, info = clue.train_cvae(state, data, expert_data, num_steps=n)
            done += n
            chunks += 1
            info = {k: float(v) for k, v in jax.device_get(info).items()}
            logger.log({f"clue/{k}": v for k, v in info.items()}, done)
            if chunks % CVAE_CHECKPOINT_EVERY == 0 and done < total:
                logger.flush()  # every point up to the checkpoint is on disk
                storage.save_cvae(partial, state)
            bar.update(n)
            bar.set_postfix({"loss": f"{info['cvae_loss']:.3f}",
                             "calib": f"{info['calibration_loss']:.3f}"}, refresh=False)
    logger.close()
    storage.save_cvae(path, state)
    partial.unlink(missing_ok=True)
    return state


def figures(state: clue.CLUEState, dataset: Dataset, expert: Dataset, config, run_dir,
            ground_truth: Optional[np.ndarray], uncalibrated: Optional[clue.CLUEState] = None,
            max_points: int = 20000, title: str = "") -> Dict[str, float]:
    """latent_embeddings.png (Fig. 2) and, with ground truth, reward_correlation.png (Fig. 7)."""
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
    plots.plot_latent_embeddings(Path(run_dir) / "latent_embeddings.png", panels,
                                 suptitle=title)
    out = {}
    if ground_truth is not None:
        z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
        raw = labelling.label_rewards(state.model, dataset.observations[rows],
                                      dataset.actions[rows], z_e, config.temperature)
        out["spearman"] = plots.plot_reward_correlation(
            Path(run_dir) / "reward_correlation.png", raw, ground_truth[rows], title=title)
    return out
