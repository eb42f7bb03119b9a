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
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import checkpoints
from clue_jax.data.dataset import Dataset, to_device
from clue_jax.logging import RunLogger

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


def prepare_run_dir(run_dir, config: Dict[str, Any], resume: bool) -> Path:
    """Create `run_dir` and write config.json.

    An existing run folder is never deleted: without `resume` it is moved aside
    to `<run_dir>.prev-<time>` and a fresh one is made.

    Raises:
        PermissionError: the folder cannot be written, with the fix.
    """
    run_dir = Path(run_dir)
    try:
        if run_dir.exists() and any(run_dir.iterdir()) and not resume:
            aside = run_dir.with_name(f"{run_dir.name}.prev-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.move(str(run_dir), str(aside))
            print(f"[clue_jax] an earlier run in {run_dir} was moved to {aside}")
        run_dir.mkdir(parents=True, exist_ok=True)
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


def train_offline(agent: Any, dataset: Dataset, update_n: UpdateFn, policy_factory: PolicyFactory,
                  eval_fn: Optional[EvalFn], loop: LoopConfig, run_dir,
                  data: Optional[Any] = None) -> Tuple[Any, List[Tuple[int, float]]]:
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
    Returns:
        The trained agent and the (step, normalized score) history.
    """
    from tqdm import tqdm

    run_dir = Path(run_dir)
    data = to_device(dataset) if data is None else data
    key = jax.random.fold_in(jax.random.PRNGKey(loop.seed), 1)
    step, history = 0, []
    ckpt_path = run_dir / checkpoints.CHECKPOINT_NAME
    if loop.resume and ckpt_path.exists():
        state = checkpoints.restore(ckpt_path, {"agent": agent, "key": key, "step": 0,
                                                "history": np.zeros((0, 2))})
        agent, key, step = state["agent"], jnp.asarray(state["key"]), int(state["step"])
        history = [(int(s), float(v)) for s, v in np.asarray(state["history"]).reshape(-1, 2)]
        print(f"[clue_jax] resumed {run_dir} at step {step}")
    logger = RunLogger(run_dir, loop.seed, resumed_from=step if step else None)
    chunk = math.gcd(loop.log_interval, loop.eval_interval)
    bar = tqdm(total=loop.max_steps, initial=step, disable=not loop.progress, smoothing=0.1,
               unit="upd", dynamic_ncols=True)
    last_score = history[-1][1] if history else float("nan")
    try:
        while step < loop.max_steps:
            n = min(chunk, loop.max_steps - step)
            t0 = time.perf_counter()
            agent, key, info = update_n(agent, data, key, num_steps=n, batch_size=loop.batch_size)
            jax.block_until_ready(info)
            bad = first_nonfinite(agent, info)
            if bad is not None:
                kept = f"the checkpoint of step {history[-1][0] if history else 'none'}" \
                    if ckpt_path.exists() else "no checkpoint (none was written yet)"
                raise DivergenceError(
                    f"training diverged in updates {step + 1}-{step + n}: {bad} is not finite. "
                    f"Kept {kept} in {run_dir}; nothing after it was saved. Check the rewards "
                    "(NaN or huge values?) and lower the learning rates or --batch_size "
                    "changes that caused it.")
            step += n
            bar.update(n)
            ups = n / max(time.perf_counter() - t0, 1e-9)
            if step % loop.log_interval == 0:
                logger.log({**_to_float_dict(info, "train/"), "train/updates_per_s": ups}, step)
            if step % loop.eval_interval == 0 or step == loop.max_steps:
                if eval_fn is not None:
                    metrics = eval_fn(policy_factory(agent), step)
                    logger.log({f"eval/{k}": v for k, v in metrics.items()}, step)
                    last_score = float(metrics["normalized_score"])
                    history.append((step, last_score))
                    logger.write_scores(history)
                logger.flush()  # every point up to the checkpoint is on disk before it
                checkpoints.save(ckpt_path, {"agent": agent, "key": key, "step": step,
                                             "history": np.asarray(history, np.float64)})
            postfix = {"upd/s": f"{ups:.0f}"}
            if history:  # no score before the first evaluation
                postfix["score"] = f"{last_score:.1f}"
            bar.set_postfix(postfix, refresh=False)
    finally:
        bar.close()
        logger.close()
    return agent, history


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


def write_results(run_dir, results: Dict[str, Any]) -> None:
    """results.json with the final metrics (atomic)."""
    checkpoints.atomic_write_bytes(Path(run_dir) / "results.json",
                                   json.dumps(results, indent=2, sort_keys=True).encode())

