"""What a run writes about itself beside training: provenance, experts.json, the labels'
summary, and results.json completed with the labeller."""

import json
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from clue_jax import training
from clue_jax.data import experts as expert_lib
from clue_jax.data.dataset import Dataset
from clue_jax.experiments.settings import RunSettings
from clue_jax.logging import RunLogger
from clue_jax.rewards import labellers, storage

FINGERPRINT_HEX = 16  # hex digits of a dataset's SHA-256 kept in config.json / experts.json


def fingerprint(dataset: Dataset) -> str:
    """The first FINGERPRINT_HEX hex digits of the SHA-256 of the dataset's observations and
    actions (`rewards.dataset_checksum`, which reward files carry too). Two runs with the
    same fingerprint learned from the same transitions; generated data is deterministic per
    platform only, so the same name made on another CPU or a GPU may differ."""
    return storage.dataset_checksum(dataset)[:FINGERPRINT_HEX]


def require_rebuilt(run_dir: Path, what: str, data: Dataset, recorded: str) -> None:
    """SystemExit where `data`, rebuilt from a run folder's records to read the run again,
    is not what the run learned from: `recorded` is the fingerprint the run wrote for it
    (`grid.tables.fingerprints`; '' for a run older than the fingerprints, not checked)."""
    if recorded and fingerprint(data) != recorded:
        raise SystemExit(
            f"--run={run_dir}: the {what} rebuilt here (fingerprint {fingerprint(data)}, "
            f"{data.size} rows) is not the one the run learned from ({recorded}); generated "
            "data is deterministic per platform only. Run this on the platform that made "
            "the run, or pass a run made here.")


def provenance(name: Optional[str] = None, dataset: Optional[Dataset] = None
               ) -> Dict[str, Any]:
    """What produced a run: the git commit (and whether the tree had changes), package
    versions, the device and, given `dataset`, the data (`name`, rows, fingerprint), for
    config.json (never compared on --resume)."""
    import importlib.metadata
    import subprocess

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
    out["device"] = device_name()
    if dataset is not None:
        out["data"] = {"name": name, "rows": dataset.size, "sha256": fingerprint(dataset)}
    return out


def device_name() -> str:
    """The device jax computes on, as config.json's provenance names it (e.g. 'gpu: NVIDIA
    H200 (x1)'); run costs and bench records are matched by this string."""
    import jax
    device = jax.devices()[0]
    return f"{device.platform}: {device.device_kind} (x{jax.device_count()})"


def write_experts(run_dir, selection: expert_lib.ExpertSelection, settings: RunSettings) -> None:
    info = {"segments": selection.segments.tolist(), "message": selection.message,
            "num_transitions": selection.dataset.size, "setting": settings.setting,
            "num_expert": settings.num_expert, "num_expert_used": len(selection.segments),
            "expert_selection": settings.expert_selection,
            "expert_rule": settings.expert_rule(),
            "sha256": fingerprint(selection.dataset)}
    (Path(run_dir) / "experts.json").write_text(json.dumps(info, indent=2))


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
    truth, it is not sparse (two values: a dense locomotion reward has no goal rows)
    or it has no positive row.
    """
    if ground_truth is None:
        return {}
    truth = np.asarray(ground_truth)
    goal = truth > 0
    if not goal.any() or goal.all() or len(np.unique(truth)) != 2:
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
