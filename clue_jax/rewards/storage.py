"""Files of the reward labeller: relabelled rewards (npz) and CVAE checkpoints (msgpack).

Both are written atomically (temp file in the same folder, fsync, rename) and
kept apart from the agent's checkpoints, so a run can relabel once and train
many agents, or resume without retraining the CVAE.

A reward file holds `rewards` (N,), `n` and `checksum`, a SHA-256 of the
dataset's observations and actions (float32 bytes and shapes); `load_rewards`
refuses a file whose N or checksum does not match the dataset it is given.
"""

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Dict, Optional

import jax
import numpy as np
from flax import serialization

from clue_jax import checkpoints
from clue_jax.data.dataset import Dataset
from clue_jax.rewards.clue import CLUEState

CHECKPOINT_FORMAT = 1


class RewardFileError(ValueError):
    """A reward file that does not belong to the dataset it is loaded for."""


def dataset_checksum(dataset: Dataset) -> str:
    """SHA-256 hex digest of (observations, actions) as float32, shapes included."""
    digest = hashlib.sha256()
    for array in (dataset.observations, dataset.actions):
        array = np.ascontiguousarray(array, dtype=np.float32)
        digest.update(str(array.shape).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def save_rewards(path, rewards: np.ndarray, dataset: Dataset,
                 metadata: Optional[Dict[str, Any]] = None) -> None:
    """Write rewards (N,) for `dataset` to `path` (npz) atomically.

    Args:
        metadata: optional JSON-serialisable notes (config, z_e, ...).
    """
    rewards = np.asarray(rewards, np.float32).reshape(-1)
    if rewards.shape[0] != dataset.size:
        raise RewardFileError(f"save_rewards({path}): {rewards.shape[0]} rewards for a dataset "
                              f"of {dataset.size} transitions.")
    buffer = io.BytesIO()
    np.savez(buffer, rewards=rewards, n=np.int64(dataset.size),
             checksum=np.array(dataset_checksum(dataset)),
             metadata=np.array(json.dumps(metadata or {}, default=str)))
    checkpoints.atomic_write_bytes(path, buffer.getvalue())


def load_rewards(path, dataset: Dataset) -> np.ndarray:
    """Rewards (N,) float32 saved by `save_rewards` for this same dataset.

    Raises:
        RewardFileError: no file, not a reward file (keys 'rewards', 'n', 'checksum'),
            N or the observation/action checksum differ from `dataset`, or a reward is
            NaN/Inf.
    """
    path = Path(path)
    if not path.is_file():
        raise RewardFileError(f"reward file {path} does not exist; label the dataset first.")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("rewards", "n", "checksum") if k not in f.files]
            if missing:
                raise RewardFileError(
                    f"reward file {path} lacks {missing} (it has {sorted(f.files)}); pass a "
                    "rewards.npz written by a clue_jax run (rewards.storage.save_rewards).")
            rewards, n, checksum = f["rewards"], int(f["n"]), str(f["checksum"])
    except (OSError, ValueError) as e:
        if isinstance(e, RewardFileError):
            raise
        raise RewardFileError(f"reward file {path} is not a readable .npz ({e}); pass a "
                              "rewards.npz written by a clue_jax run.") from e
    fix = "relabel this dataset (delete the file) or load the dataset it was made for."
    bad = ~np.isfinite(np.asarray(rewards, np.float64))
    if bad.any():
        raise RewardFileError(f"reward file {path} holds {int(bad.sum())} NaN/Inf rewards (first "
                              f"rows {np.flatnonzero(bad)[:5].tolist()}); {fix}")
    if n != dataset.size or rewards.shape[0] != dataset.size:
        raise RewardFileError(f"reward file {path} holds {n} rewards but the dataset has "
                              f"{dataset.size} transitions; {fix}")
    if checksum != dataset_checksum(dataset):
        raise RewardFileError(f"reward file {path} was made for a different dataset (checksum of "
                              f"observations+actions differs, same N={n}); {fix}")
    return rewards.astype(np.float32)


def save_cvae(path, state: CLUEState) -> None:
    """Checkpoint the whole CVAE learner (params, Adam state, step, normalisation, rng)."""
    payload = {"format": CHECKPOINT_FORMAT, "state": serialization.to_state_dict(state)}
    checkpoints.atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def restore_cvae(path, template: CLUEState) -> CLUEState:
    """Restore a `save_cvae` file into the structure of `template`.

    `template` is a learner created with the same config and dataset shapes
    (`create_clue_state`); its static fields (beta, weights, dims) are kept.

    Raises:
        FileNotFoundError / ValueError naming the file, the first mismatching
        entry and both shapes.
    """
    raw = checkpoints.load_raw(path)
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"CVAE checkpoint {path} is not a clue_jax CVAE checkpoint "
                         f"(format {CHECKPOINT_FORMAT}); was it written by save_cvae?")
    try:
        restored = serialization.from_state_dict(template, raw["state"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"CVAE checkpoint {path} does not match the learner's structure ({e}); "
                         "create the template with the config the checkpoint was made with."
                         ) from e
    saved = jax.tree_util.tree_leaves_with_path(restored)
    expected = jax.tree_util.tree_leaves(template)
    for (key_path, got), want in zip(saved, expected):
        if np.shape(got) != np.shape(want):
            raise ValueError(
                f"CVAE checkpoint {path}: {jax.tree_util.keystr(key_path)} has shape "
                f"{np.shape(got)} but the learner expects {np.shape(want)}; the checkpoint was "
                "made with other hidden_dims / latent_dim or dataset dimensions.")
    return jax.tree_util.tree_map(
        lambda x, t: jax.numpy.asarray(x, dtype=getattr(t, "dtype", None)), restored, template)
