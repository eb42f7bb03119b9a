"""CLUE as a labeller: calibrated CVAE (paper Eq. 4-5, 7) -> Eq. 6 rewards (+ figures).

Each stage writes into the run folder: cvae.msgpack (restored on resume),
rewards.npz (reusable with `train_iql.py --reward_file`), clue/* scalars,
latent_embeddings.png (Fig. 2) and, with ground-truth rewards,
reward_correlation.png (Fig. 7).
"""

import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from clue_jax import interrupts, timing
from clue_jax.data.dataset import Dataset, to_device
from clue_jax.logging import RunLogger
from clue_jax.rewards import clue, labelling, plots, storage
from clue_jax.rewards.base import REWARD_FILE, LabelRequest, Labels
from clue_jax.trees import stack_trees, unstack_tree


# Config fields that change only how a trained CVAE labels (Eq. 6), never the CVAE: runs
# that differ only in them share it (`Labeller.labelling_fields`; `fit_cvaes`).
LABELLING_FIELDS = ("temperature", "use_mean", "reward_scaling", "reward_shift",
                    "label_chunk_size")


def label(request: LabelRequest) -> Labels:
    """Train (or restore) the CVAE on dataset + experts, then label every transition."""
    return label_seeds([request])[0]


def label_seeds(requests: List[LabelRequest]) -> List[Labels]:
    """`label` for S runs' requests (one dataset, each run its seed, experts, run folder
    and config, equal but in `LABELLING_FIELDS`): the CVAEs train as one vmapped program
    (`fit_cvaes`: one per seed and expert set), then each run labels with its own config."""
    first = requests[0]
    states = fit_cvaes(first.config, first.dataset, [r.expert for r in requests],
                       [r.seed for r in requests], [r.run_dir for r in requests],
                       resume=any(r.resume for r in requests),  # fresh runs have no files
                       progress=first.progress, deadline=first.deadline)
    return [_label_with(request, state) for request, state in zip(requests, states)]


def label_key(use_mean: bool, seed: int) -> Optional[jax.Array]:
    """The key a run's Eq. 6 labelling draws z with: None for z = the mean, else PRNGKey(seed)."""
    return None if use_mean else jax.random.PRNGKey(seed)


def _label_with(request: LabelRequest, state: clue.CLUEState) -> Labels:
    """Eq. 6 rewards from a trained CVAE, saved as rewards.npz, and the figures."""
    cfg, data, expert = request.config, request.dataset, request.expert
    key = label_key(cfg.use_mean, request.seed)
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
                                name="cvae_uncalibrated.msgpack", deadline=request.deadline)
    info.update(figures(state, data, expert, cfg, request.run_dir, request.ground_truth,
                        uncalibrated, title=request.title, key=key))
    warning = flat_reward_warning(info, request.title, cfg.use_mean, request.run_dir)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return Labels(relabelled.rewards, info)


# Eq. 6 rewards near 1 whose std over the dataset is below this carry almost no signal:
# every embedding sits near z_e, so every row earns about 1.
FLAT_REWARD_STD = 0.05
# The encoder's sigma on the data (mean over latent dims and rows) from which on its
# posterior counts as collapsed to the prior N(0, I): its means carry next to nothing.
COLLAPSED_SIGMA = 0.9


def flat_reward_warning(info: Dict[str, float], title: str, use_mean: bool = True,
                        run_dir=None) -> Optional[str]:
    """The warning for rewards near 1 that hardly vary over the dataset, else None.

    Such rewards are about one constant per row, so the warning names the control that
    tells whether they add anything: IQL on the same reward on every row (the 'constant'
    labeller at the run's mean reward: `level_from` the run's folder, `run_dir`, or its shift
    set to 0 so that the value is the reward whatever the domain's shift). Measured: a flat
    CLUE run scores as that constant does (results/table4/README.md, gen-hopper-medium-v0).
    When the encoder's posterior has collapsed on the data (`COLLAPSED_SIGMA`) and z is its
    mean, it names the collapse and the sampled z, which keeps the calibration's separation
    but is no fix everywhere (on gen-hopper-medium-v0 its rewards are ~0 on 99% of rows and
    the policy falls to 0); otherwise it points at the latent figure, the CVAE's budget and c.
    """
    std = info["raw_reward_std"]
    if std >= FLAT_REWARD_STD or info["raw_reward_mean"] < 0.5:
        return None
    mean = info["reward_mean"]
    by_value = (f"--labeller=constant --constant_config.value={mean:.3f} "
                "--constant_config.reward_shift=0")
    control = (by_value if run_dir is None else
               f"--labeller=constant --constant_config.level_from={run_dir} (or {by_value})")
    head = (f"[clue_jax] warning: {title}: CLUE's rewards hardly vary over the dataset (std "
            f"{std:.3f} < {FLAT_REWARD_STD}, from {info['raw_reward_min']:.3f} to "
            f"{info['raw_reward_max']:.3f}): every embedding lies close to the expert's at "
            f"temperature c, so the agent learns about what it learns from one reward on every "
            f"row. Compare with that control, IQL on this run's mean reward {mean:.3f} per row: "
            f"{control} (reproduce.py: the constant method)")
    sigma = info.get("data_sigma_mean")
    if use_mean and sigma is not None and sigma >= COLLAPSED_SIGMA:
        return head + (
            f". The encoder's posterior has collapsed to the prior on the data (mean sigma "
            f"{sigma:.3f}, mean |mu| {info['data_latent_norm']:.3f}), so the encoder means of "
            f"all rows sit near z_e. A sample of q(z | s, a) keeps the calibration's "
            f"separation (expert sigma {info['expert_sigma_mean']:.3f}): "
            f"--clue_config.use_mean=False (reproduce.py: the clue-sampled methods); measured, "
            f"it helps on some datasets and fails on others (results/README.md).")
    return head + (". Most likely the latent has collapsed (see latent_embeddings.png): train "
                   "the CVAE longer (--cvae_steps) or raise c (--temperature).")


CVAE_CHECKPOINT_EVERY = 5  # chunks (of `chunk` updates) between mid-training checkpoints


def fit_cvae(config, dataset: Dataset, expert: Dataset, seed: int, run_dir, *,
             resume: bool = False, progress: bool = True, chunk: int = 1000,
             name: str = "cvae.msgpack", deadline: Optional[float] = None) -> clue.CLUEState:
    """Train (or, with resume, restore) the calibrated CVAE; logs clue/* scalars.

    The learner is checkpointed every CVAE_CHECKPOINT_EVERY chunks to
    `<name>.partial` (params, Adam state, step, rng); with `resume` a killed
    training continues from there to the same CVAE as an uninterrupted one.
    The finished CVAE is `<name>`, and the partial file is removed. With a `deadline`
    (time.time()) the training stops at a checkpoint when the next stretch of
    CVAE_CHECKPOINT_EVERY chunks would pass it (timing.StoppedAtDeadline; resume continues).
    """
    return fit_cvaes(config, dataset, [expert], [seed], [run_dir], resume=resume,
                     progress=progress, chunk=chunk, name=name, deadline=deadline)[0]


def fit_cvaes(config, dataset: Dataset, experts: List[Dataset], seeds: List[int],
              run_dirs: List[Any], *, resume: bool = False, progress: bool = True,
              chunk: int = 1000, name: str = "cvae.msgpack",
              deadline: Optional[float] = None) -> List[clue.CLUEState]:
    """`fit_cvae` for S seeds (each its experts and run folder) on one dataset.

    Seeds that start from the same update (all of them, unless a resume finds them
    at different checkpoints) train together: one vmapped program
    (`clue.train_cvae_seeds`), the dataset held once, the experts padded to one
    length. Runs with the same seed and experts (runs that differ only in how they label,
    e.g. a sweep of c) train one CVAE between them. Each run's checkpoints, scalars and
    cvae.msgpack are a separate run's.
    """
    states = [clue.create_clue_state(config, dataset, seed) for seed in seeds]
    paths = [Path(run_dir) / name for run_dir in run_dirs]
    starts: Dict[int, List[int]] = {}  # first update -> the seeds (indices) starting there
    for i, path in enumerate(paths):
        partial = _partial(path)
        if resume and path.exists():
            states[i] = storage.restore_cvae(path, states[i])
            print(f"[clue_jax] CVAE restored from {path}")
            continue
        done = 0
        if resume and partial.exists():
            states[i] = storage.restore_cvae(partial, states[i])
            done = int(states[i].train_state.step)
            print(f"[clue_jax] CVAE training continues from update {done} ({partial})")
        starts.setdefault(done, []).append(i)
    data = to_device(dataset)
    for done, group in starts.items():
        shared: Dict[Tuple[int, str], List[int]] = {}  # (seed, experts) -> its runs
        for i in group:
            shared.setdefault((seeds[i], storage.dataset_checksum(experts[i])), []).append(i)
        runs = list(shared.values())
        timing.count("label_models", len(runs))  # CVAEs trained: --plan prices labelling by them
        with timing.phase("cvae"):
            trained = _train_group(config, data, [experts[r[0]] for r in runs],
                                   [states[r[0]] for r in runs], [seeds[r[0]] for r in runs],
                                   [[paths[i] for i in r] for r in runs], done, progress,
                                   chunk, deadline)
        for r, state in zip(runs, trained):
            for i in r:
                states[i] = state
    return states


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _train_group(config, data, experts: List[Dataset], states: List[clue.CLUEState],
                 seeds: List[int], paths: List[List[Path]], done: int, progress: bool,
                 chunk: int, deadline: Optional[float] = None) -> List[clue.CLUEState]:
    """Train CVAEs that are all at update `done` to config.num_steps; one trains alone
    (`clue.train_cvae`), several vmapped (`clue.train_cvae_seeds`). `paths[i]`: where
    CVAE i is written, one file per run that shares it (its scalars go to each run)."""
    if len(states) == 1:
        expert_data = to_device(experts[0])
        state = states[0]

        def step(state, n):
            new, info = clue.train_cvae(state, data, expert_data, num_steps=n)
            return new, [info]
    else:
        length = max(e.size for e in experts)
        expert_data = stack_trees([_pad_rows(to_device(e), length) for e in experts])
        counts = jnp.asarray([e.size for e in experts], jnp.int32)
        state = stack_trees(states)

        def step(state, n):
            new, info = clue.train_cvae_seeds(state, data, expert_data, counts, num_steps=n)
            return new, [unstack_tree(info, i) for i in range(len(states))]

    def members(state):
        if len(states) == 1:
            return [state]
        return [unstack_tree(state, i) for i in range(len(states))]

    first = paths[0][0]
    stream = "cvae" if first.name == "cvae.msgpack" else first.name.split(".")[0]
    loggers = [[RunLogger(path.parent, seed, resumed_from=done or None, stream=stream)
                for path in shared] for shared, seed in zip(paths, seeds)]
    files = [path for shared in paths for path in shared]
    total = int(config.num_steps)
    desc = "CVAE" if len(states) == 1 else f"CVAE x{len(states)} seeds"
    with tqdm(total=total, initial=done, disable=not progress, desc=desc, unit="upd",
              dynamic_ncols=True) as bar:
        chunks, stretch_start = 0, time.time()
        _past_deadline(deadline, 0.0, done, total, files)
        while done < total:
            interrupts.check()
            n = min(chunk, total - done)
            state, infos = step(state, n)
            done += n
            chunks += 1
            infos = [{k: float(v) for k, v in jax.device_get(info).items()} for info in infos]
            for shared, info in zip(loggers, infos):
                scalars = {f"clue/{k}": v for k, v in info.items()}
                for logger in shared:
                    logger.log(scalars, done)
            if chunks % CVAE_CHECKPOINT_EVERY == 0 and done < total:
                for shared, where, member in zip(loggers, paths, members(state)):
                    for logger, path in zip(shared, where):
                        logger.flush()  # every point up to the checkpoint is on disk
                        storage.save_cvae(_partial(path), member)
                now = time.time()
                _past_deadline(deadline, now - stretch_start, done, total, files)
                stretch_start = now
            bar.update(n)
            bar.set_postfix({"loss": f"{infos[0]['cvae_loss']:.3f}",
                             "calib": f"{infos[0]['calibration_loss']:.3f}"}, refresh=False)
    trained = members(state)
    for shared, where, member in zip(loggers, paths, trained):
        for logger, path in zip(shared, where):
            logger.close()
            storage.save_cvae(path, member)
            _partial(path).unlink(missing_ok=True)
    return trained


def _past_deadline(deadline: Optional[float], stretch_s: float, done: int, total: int,
                   paths: List[Path]) -> None:
    """StoppedAtDeadline when another `stretch_s` of CVAE training would end after
    `deadline` (the CVAEs are at a checkpoint: update `done`)."""
    if deadline is None:
        return
    where = timing.run_folders(path.parent for path in paths)
    saved = f"checkpoint saved in {where}" if done else "nothing trained yet"
    timing.stop_before_deadline(deadline, time.time(), stretch_s,
                                f"CVAE stopped at update {done} of {total} ({saved})")


def _pad_rows(batch, length: int):
    """A device Batch with its rows padded (zeros) to `length`; padding is never sampled."""
    return jax.tree_util.tree_map(
        lambda x: jnp.pad(x, [(0, length - x.shape[0])] + [(0, 0)] * (x.ndim - 1)), batch)


def figures(state: clue.CLUEState, dataset: Dataset, expert: Dataset, config, run_dir,
            ground_truth: Optional[np.ndarray], uncalibrated: Optional[clue.CLUEState] = None,
            max_points: int = 20000, title: str = "", key: Optional[jax.Array] = None
            ) -> Dict[str, float]:
    """latent_embeddings.png (Fig. 2) and, with ground truth, reward_correlation.png (Fig. 7)
    and its `spearman`, of the run's own rewards: z as `config.use_mean` says, a sampled z
    drawn with `key` (`label_key`) and each row's index, as the labelling drew it."""
    rng = np.random.default_rng(0)
    rows = rng.choice(dataset.size, size=min(max_points, dataset.size), replace=False)
    panels = {}
    for panel, st in (("CLUE (calibrated)", state), ("CVAE without calibration", uncalibrated)):
        if st is None:
            continue
        z_exp, _ = labelling.encode_dataset(st.model, expert.observations, expert.actions)
        z_all, _ = labelling.encode_dataset(st.model, dataset.observations[rows],
                                            dataset.actions[rows])
        panels[panel] = (z_exp, z_all)
    plots.plot_latent_embeddings(Path(run_dir) / "latent_embeddings.png", panels,
                                 suptitle=title)
    out = {}
    if ground_truth is not None:
        z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
        raw = labelling.label_rewards(state.model, dataset.observations[rows],
                                      dataset.actions[rows], z_e, config.temperature,
                                      use_mean=config.use_mean, key=key, row_ids=rows)
        out["spearman"] = plots.plot_reward_correlation(
            Path(run_dir) / "reward_correlation.png", raw, ground_truth[rows], title=title)
    return out
