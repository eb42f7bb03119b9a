"""The shared offline training loop: fused updates, log/eval/checkpoint cadence, resume.

Updates run in jitted chunks of `gcd(log_interval, eval_interval)` steps (one
`lax.scan` each), the dataset lives on the device and batches are drawn with
JAX PRNG inside the scan, so the host only wakes up to log, evaluate and
checkpoint. A checkpoint (agent, data key, step, score history) is written
atomically after every evaluation; `resume=True` continues from it and gives
the same result as an uninterrupted run. After every chunk the losses and the
agent's parameters are checked: the first non-finite value stops the run with
`DivergenceError` (naming the updates and the loss or parameter), before
anything of that chunk is logged or saved.
"""

import dataclasses
import functools
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import checkpoints, interrupts, locks, timing
from clue_jax.trees import stack_trees, unstack_tree
from clue_jax.data.dataset import Dataset, to_device
from clue_jax.logging import RunLogger
from clue_jax.timing import StoppedAtDeadline  # noqa: F401 -- training.StoppedAtDeadline

# (agent, data, key, num_steps, batch_size) -> (agent, key, info)
UpdateFn = Callable[..., Tuple[Any, jax.Array, Dict[str, jax.Array]]]
# agent -> (observations (E, obs_dim) np) -> actions (E, act_dim) np
PolicyFactory = Callable[[Any], Callable[[np.ndarray], np.ndarray]]
# (policy_fn, step) -> dict with at least 'return' and 'normalized_score'
EvalFn = Callable[[Callable[[np.ndarray], np.ndarray], int], Dict[str, float]]


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """How long to train and how often to log, evaluate and checkpoint."""

    seed: int = 42
    max_steps: int = 1_000_000
    batch_size: int = 256
    log_interval: int = 1000
    eval_interval: int = 5000
    progress: bool = True
    resume: bool = False
    deadline: Optional[float] = None  # wall clock (time.time()); stop at a checkpoint before it


MOVED_ASIDE = ".prev-"  # <run_dir>.prev-<time>: an earlier run moved aside by a fresh start


def prepare_run_dir(run_dir, config: Dict[str, Any], resume: bool) -> Path:
    """Create `run_dir`, take its lock (held until the process ends or `locks.release`)
    and write config.json.

    An existing run folder is never deleted: without `resume` it is moved aside
    to `<run_dir>.prev-<time>` and a fresh one is made; never while another process
    holds its lock.

    Raises:
        PermissionError: the folder cannot be written, with the fix.
        locks.RunFolderBusy: another live process writes this run folder.
    """
    run_dir = Path(run_dir)
    try:
        if (run_dir.exists() and not resume
                and any(p.name != locks.LOCK_NAME for p in run_dir.iterdir())):
            locks.check_free(run_dir)  # never move a live run aside
            aside = run_dir.with_name(
                f"{run_dir.name}{MOVED_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}")
            unfinished = ((run_dir / checkpoints.CHECKPOINT_NAME).exists()
                          and not (run_dir / "results.json").exists())
            shutil.move(str(run_dir), str(aside))
            print(f"[clue_jax] an earlier run in {run_dir} was moved to {aside}"
                  + (" (it was unfinished: --resume would have continued it from its "
                     "checkpoint)" if unfinished else ""))
        run_dir.mkdir(parents=True, exist_ok=True)
        locks.hold(run_dir)
        probe = run_dir / ".write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise PermissionError(
            f"save_dir: cannot write the run folder {run_dir} ({e.strerror or e}); pass "
            "--save_dir=<a folder you can write>.") from e
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
    return run_dir


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss or parameter; the last good checkpoint is kept."""


def first_nonfinite(agent: Any, info: Dict[str, jax.Array]) -> Optional[str]:
    """The first non-finite loss in `info` or floating-point leaf of `agent`, else None."""
    for key, value in jax.device_get(info).items():
        if not np.all(np.isfinite(value)):
            return f"train/{key} = {np.asarray(value).ravel()[0]}"
    leaves = [x for x in jax.tree_util.tree_leaves(agent)
              if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)]
    finite = jax.device_get(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))
    if not finite.all():
        path = jax.tree_util.tree_flatten_with_path(agent)[0]
        names = [jax.tree_util.keystr(p) for p, x in path
                 if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)]
        return f"parameter {names[int(np.argmin(finite))]}"
    return None


def _to_float_dict(info: Dict[str, jax.Array], prefix: str) -> Dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in jax.device_get(info).items()}


@functools.partial(jax.jit, static_argnums=2)
def _finite_flags(agent: Any, info: Dict[str, jax.Array], stacked: bool) -> jax.Array:
    """Whether every float leaf of agent and info is finite: (S,) bools for S stacked
    members (leading axis), else (1,)."""
    leaves = [x for x in jax.tree_util.tree_leaves((agent, info))
              if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)]
    if stacked:
        return jnp.stack([jnp.isfinite(x).reshape(x.shape[0], -1).all(axis=1)
                          for x in leaves]).all(axis=0)
    return jnp.stack([jnp.isfinite(x).all() for x in leaves]).all()[None]


def _all_finite(agent: Any, info: Dict[str, jax.Array], stacked: bool) -> np.ndarray:
    """Per member, whether its losses and parameters are all finite (one device round trip)."""
    return np.asarray(jax.device_get(_finite_flags(agent, info, stacked)))


def train_offline(agent: Any, dataset: Dataset, update_n: UpdateFn, policy_factory: PolicyFactory,
                  eval_fn: Optional[EvalFn], loop: LoopConfig, run_dir,
                  data: Optional[Any] = None, desc: str = "updates"
                  ) -> Tuple[Any, List[Tuple[int, float]]]:
    """Train `agent` on `dataset` with the log/eval/checkpoint cadence of the reference.

    Args:
        agent: an immutable agent pytree (e.g. iql.IQLAgent).
        dataset: host dataset; moved to the device once (or pass `data`: a device
            Batch, or a MixedBatch sampled half and half).
        update_n: fused update, e.g. iql.jit_update_n.
        policy_factory: agent -> batched deterministic policy for evaluation.
        eval_fn: (policy, step) -> metrics dict ('return', 'normalized_score', ...); None
            skips eval.
        loop: cadence and length.
        run_dir: run folder (from `prepare_run_dir`).
        desc: the progress bar's label (e.g. the learner's name).
    Returns:
        The trained agent and the (step, normalized score) history.
    """
    group_eval = None if eval_fn is None else (lambda policy, step: [eval_fn(policy, step)])
    agents, histories = _train_group([agent], to_device(dataset) if data is None else data,
                                     update_n, policy_factory, group_eval, [loop], [run_dir],
                                     desc=desc)
    return agents[0], histories[0]


# (stacked policy, step) -> one metrics dict per seed
GroupEvalFn = Callable[[Callable[[np.ndarray], np.ndarray], int], List[Dict[str, float]]]


def share_data(datas: List[Any]) -> Tuple[Any, Any]:
    """S device data pytrees (e.g. one dataset under S seeds' rewards) -> (data, in_axes).

    A leaf equal in every member is kept once (axis None: one copy on the device,
    e.g. the observations); the others are stacked (axis 0, e.g. each seed's rewards).
    """
    leaves = [jax.tree_util.tree_leaves(d) for d in datas]
    treedef = jax.tree_util.tree_structure(datas[0])
    shared, axes = [], []
    for column in zip(*leaves):
        same = all(x is column[0] or (x.shape == column[0].shape
                                      and bool(jnp.array_equal(x, column[0])))
                   for x in column[1:])
        shared.append(column[0] if same else jnp.stack(column))
        axes.append(None if same else 0)
    return treedef.unflatten(shared), treedef.unflatten(axes)


def train_offline_seeds(agents: List[Any], datas: List[Any], update_n: UpdateFn,
                        stacked_policy_factory: PolicyFactory, eval_fn: Optional[GroupEvalFn],
                        loops: List[LoopConfig], run_dirs: List[Any], sharding: Any = None,
                        desc: str = "updates") -> Tuple[List[Any], List[List[Tuple[int, float]]]]:
    """S seeds' agents trained together: one compiled update vmapped over the seed axis.

    Each seed keeps its own run folder, written as a separate `train_offline` run
    writes it (checkpoint, scores, TensorBoard), so any seed can also be resumed
    alone. Data leaves equal across seeds are kept once (`share_data`).

    Args:
        agents: S agents (same structure), seed s's created with loops[s].seed.
        datas: S device data pytrees (seed s's rewards).
        stacked_policy_factory: stacked agents -> policy over (S * E, obs_dim).
        eval_fn: (stacked policy, step) -> S metrics dicts; None skips eval.
        loops: S loop configs, equal but for the seed.
        run_dirs: S run folders.
        sharding: optional jax.sharding for the stacked seed axis (several devices).
    Returns:
        S trained agents and S histories.
    """
    fields = [dataclasses.replace(lp, seed=0) for lp in loops]
    if any(f != fields[0] for f in fields[1:]):
        raise ValueError("train_offline_seeds: the seeds' loop configs differ beyond the seed.")
    data, axes = share_data(datas)
    return _train_group(agents, data, update_n, stacked_policy_factory, eval_fn, loops,
                        run_dirs, data_axes=axes, sharding=sharding, desc=desc)


def _past_deadline(loop: LoopConfig, step: int, interval_s: float, run_dirs: List[Path]) -> None:
    """StoppedAtDeadline when another `interval_s` of training would end after loop.deadline."""
    if loop.deadline is None or step >= loop.max_steps:
        return
    timing.stop_before_deadline(loop.deadline, time.time(), interval_s,
                                f"stopped at update {step} of {loop.max_steps} "
                                f"(checkpoint saved in {timing.run_folders(run_dirs)})")


class SeedsOutOfStepError(RuntimeError):
    """The seeds of a vmapped run have checkpoints of different steps (killed mid-save)."""


@functools.lru_cache(maxsize=None)
def _vmapped_update(update_n: UpdateFn, num_steps: int, batch_size: int, data_axes_def) -> Callable:
    data_axes = data_axes_def[0].unflatten(data_axes_def[1])

    def one(agent, data, key):
        return update_n(agent, data, key, num_steps=num_steps, batch_size=batch_size)

    return jax.jit(jax.vmap(one, in_axes=(0, data_axes, 0)))


def _train_group(agents: List[Any], data: Any, update_n: UpdateFn, policy_factory: PolicyFactory,
                 eval_fn: Optional[GroupEvalFn], loops: List[LoopConfig], run_dirs: List[Any],
                 data_axes: Any = None, sharding: Any = None, desc: str = "updates"
                 ) -> Tuple[List[Any], List[List[Tuple[int, float]]]]:
    """The loop of `train_offline` (one member, no vmap) and `train_offline_seeds` (stacked)."""
    from tqdm import tqdm

    stacked = data_axes is not None
    loop, run_dirs = loops[0], [Path(d) for d in run_dirs]
    keys = [jax.random.fold_in(jax.random.PRNGKey(lp.seed), 1) for lp in loops]
    ckpt_paths = [d / checkpoints.CHECKPOINT_NAME for d in run_dirs]
    steps, histories = [0] * len(loops), [[] for _ in loops]
    for i, (lp, path) in enumerate(zip(loops, ckpt_paths)):
        if lp.resume and path.exists():
            state = checkpoints.restore(path, {"agent": agents[i], "key": keys[i], "step": 0,
                                               "history": np.zeros((0, 2))})
            agents[i], keys[i] = state["agent"], jnp.asarray(state["key"])
            steps[i] = int(state["step"])
            histories[i] = [(int(s), float(v))
                            for s, v in np.asarray(state["history"]).reshape(-1, 2)]
            print(f"[clue_jax] resumed {run_dirs[i]} at step {steps[i]}")
    if len(set(steps)) > 1:
        raise SeedsOutOfStepError(
            "the seeds' checkpoints are at different steps ("
            + ", ".join(f"seed {lp.seed}: {s}" for lp, s in zip(loops, steps))
            + "), so they cannot continue as one vmapped run; resume each seed alone "
              "(--seed=<s> --resume): its run folder is that of a separate run.")
    step = steps[0]
    if stacked:
        agent, key = stack_trees(agents), jnp.stack(keys)
        if sharding is not None:  # the seed axis split over devices; shared data replicated
            agent, key = jax.device_put((agent, key), sharding)
            replicated = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
            data = jax.tree_util.tree_map(
                lambda x, axis: jax.device_put(x, replicated if axis is None else sharding),
                data, data_axes, is_leaf=lambda x: x is None)
        member = unstack_tree
        treedef = jax.tree_util.tree_flatten(data_axes, is_leaf=lambda x: x is None)
        update = lambda a, d, k, n: _vmapped_update(  # noqa: E731
            update_n, n, loop.batch_size, (treedef[1], tuple(treedef[0])))(a, d, k)
    else:
        agent, key = agents[0], keys[0]
        member = lambda tree, i: tree  # noqa: E731
        update = lambda a, d, k, n: update_n(a, d, k, num_steps=n,  # noqa: E731
                                             batch_size=loop.batch_size)
    loggers = [RunLogger(d, lp.seed, resumed_from=step if step else None)
               for d, lp in zip(run_dirs, loops)]
    chunk = math.gcd(loop.log_interval, loop.eval_interval)
    bar = tqdm(total=loop.max_steps, initial=step, disable=not loop.progress, smoothing=0.1,
               unit="upd", dynamic_ncols=True,
               desc=desc if len(loops) == 1 else f"{desc} x{len(loops)} runs")
    period_start = time.perf_counter()
    _past_deadline(loop, step, 0.0, run_dirs)
    try:
        while step < loop.max_steps:
            interrupts.check()  # a Ctrl-C that Python dropped (see clue_jax.interrupts)
            n = min(chunk, loop.max_steps - step)
            t0 = time.perf_counter()
            agent, key, info = update(agent, data, key, n)
            finite = _all_finite(agent, info, stacked)  # one reduction for every member
            for i, (lp, run_dir) in enumerate(zip(loops, run_dirs)):
                bad = None if finite[i] else first_nonfinite(member(agent, i), member(info, i))
                if bad is not None:
                    kept = (f"the checkpoint of step {histories[i][-1][0] if histories[i] else 'none'}"
                            if ckpt_paths[i].exists() else "no checkpoint (none was written yet)")
                    raise DivergenceError(
                        f"training diverged in updates {step + 1}-{step + n}"
                        + (f" (seed {lp.seed})" if stacked else "")
                        + f": {bad} is not finite. Kept {kept} in {run_dir}; nothing after it "
                        "was saved. Check the rewards (NaN or huge values?) and lower the "
                        "learning rates or --batch_size changes that caused it.")
            step += n
            timing.count("updates", n)  # per member: what this process trained (resumes)
            bar.update(n)
            ups = n / max(time.perf_counter() - t0, 1e-9)
            if step % loop.log_interval == 0:
                host_info = jax.device_get(info)  # one transfer for every member
                for i, logger in enumerate(loggers):
                    logger.log({**_to_float_dict(member(host_info, i), "train/"),
                                "train/updates_per_s": ups}, step)
            if step % loop.eval_interval == 0 or step == loop.max_steps:
                metrics = eval_fn(policy_factory(agent), step) if eval_fn is not None else None
                host_agent, host_key = jax.device_get((agent, key))  # one transfer for all
                for i, logger in enumerate(loggers):
                    if metrics is not None:
                        logger.log({f"eval/{k}": v for k, v in metrics[i].items()}, step)
                        histories[i].append((step, float(metrics[i]["normalized_score"])))
                        logger.write_scores(histories[i])
                    logger.flush()  # every point up to the checkpoint is on disk before it
                    checkpoints.save(ckpt_paths[i], {
                        "agent": member(host_agent, i),
                        "key": member(host_key, i) if stacked else host_key,
                        "step": step, "history": np.asarray(histories[i], np.float64)})
                period = time.perf_counter() - period_start
                period_start = time.perf_counter()
                _past_deadline(loop, step, period, run_dirs)
            postfix = {"upd/s": f"{ups:.0f}"}
            if histories[0]:  # no score before the first evaluation
                postfix["score"] = " ".join(f"{h[-1][1]:.1f}" for h in histories)
            bar.set_postfix(postfix, refresh=False)
    finally:
        bar.close()
        for logger in loggers:
            logger.close()
    return [member(agent, i) for i in range(len(loops))], histories


EPISODES_FILE = "evaluation_episodes.jsonl"


def write_evaluation_episodes(run_dir, step: int, episodes: Dict[str, Any]) -> None:
    """Append one evaluation's per-episode record (JSON line) to <run>/evaluation_episodes.jsonl.

    Lines of this step or later (left by a run killed after its last checkpoint)
    are dropped first, so a resumed run's file equals an uninterrupted run's.
    """
    path = Path(run_dir) / EPISODES_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if json.loads(line)["step"] < step]
    record = {"step": int(step), **{k: np.asarray(v).tolist() for k, v in episodes.items()}}
    kept.append(json.dumps(record))
    checkpoints.atomic_write_bytes(path, ("\n".join(kept) + "\n").encode())


def evaluation_env_steps(run_dir) -> int:
    """Env steps of every evaluation episode <run>/evaluation_episodes.jsonl records (0
    without the file)."""
    path = Path(run_dir) / EPISODES_FILE
    if not path.exists():
        return 0
    return sum(sum(json.loads(line)["lengths"]) for line in path.read_text().splitlines())


def write_results(run_dir, results: Dict[str, Any]) -> None:
    """results.json with the final metrics (atomic)."""
    checkpoints.atomic_write_bytes(Path(run_dir) / "results.json",
                                   json.dumps(results, indent=2, sort_keys=True).encode())

