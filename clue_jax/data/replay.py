"""Online data: a device-resident replay buffer and a host-side replay log.

`ReplayBuffer` is a pytree of fixed-size arrays plus an insert index, so
`insert` and `sample` run inside the same jitted call as the SAC update
(`clue_jax.agents.sac.env_step`). With the buffer donated to that call the
insert is in place (no copy of the arrays per step).

`ReplayLog` keeps every transition a run has seen, in the D4RL layout, as one
compressed .npz chunk per checkpoint under `<run_dir>/replay/`;
`load_replay_log(folder, upto)` returns the first `upto` steps (D4RL's
medium-replay is the log up to the medium checkpoint).
"""

import io
import re
from pathlib import Path
from typing import Dict, List, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import checkpoints
from clue_jax.types import Batch, PRNGKey

LOG_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations",
            "infos/qpos", "infos/qvel")
_CHUNK = re.compile(r"^(\d{9})-(\d{9})\.npz$")


class ReplayBuffer(flax.struct.PyTreeNode):
    """Ring buffer of transitions on the device.

    Attributes:
        data: Batch of (capacity, ...) arrays (masks = 1 - terminal).
        index: () int32, the row the next insert writes.
        size: () int32, rows filled so far (at most capacity).
    """

    data: Batch
    index: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.observations.shape[0]


def create_buffer(capacity: int, obs_dim: int, act_dim: int) -> ReplayBuffer:
    """An empty buffer of `capacity` float32 rows."""
    data = Batch(observations=jnp.zeros((capacity, obs_dim), jnp.float32),
                 actions=jnp.zeros((capacity, act_dim), jnp.float32),
                 rewards=jnp.zeros((capacity,), jnp.float32),
                 masks=jnp.zeros((capacity,), jnp.float32),
                 next_observations=jnp.zeros((capacity, obs_dim), jnp.float32))
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def insert(buffer: ReplayBuffer, transition: Batch) -> ReplayBuffer:
    """Write one transition (unbatched: (obs_dim,), (act_dim,), (), (), (obs_dim,)).

    Jittable; overwrites the oldest row once the buffer is full.
    """
    data = jax.tree_util.tree_map(
        lambda column, row: column.at[buffer.index].set(jnp.asarray(row, column.dtype)),
        buffer.data, transition)
    return ReplayBuffer(data, (buffer.index + 1) % buffer.capacity,
                        jnp.minimum(buffer.size + 1, buffer.capacity))


def sample(buffer: ReplayBuffer, key: PRNGKey, batch_size: int) -> Batch:
    """Uniform batch with replacement from the filled rows (jittable; size must be >= 1)."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), buffer.data)


def buffer_state(buffer: ReplayBuffer) -> Dict[str, np.ndarray]:
    """Host copy for a checkpoint: only the filled rows, plus index and size."""
    size = int(buffer.size)
    out = {k: np.asarray(v[:size]) for k, v in buffer.data._asdict().items()}
    return {"data": out, "index": np.int64(buffer.index), "size": np.int64(size)}


def buffer_from_state(state: Dict, capacity: int, obs_dim: int, act_dim: int) -> ReplayBuffer:
    """Inverse of `buffer_state` into a fresh buffer of `capacity` rows."""
    size = int(state["size"])
    if size > capacity:
        raise ValueError(f"checkpoint buffer holds {size} rows but the capacity is {capacity}; "
                         "resume with the run's own --config (replay_capacity).")
    empty = create_buffer(capacity, obs_dim, act_dim)
    data = Batch(**{k: getattr(empty.data, k).at[:size].set(np.asarray(state["data"][k]))
                    for k in Batch._fields})
    return ReplayBuffer(data, jnp.asarray(int(state["index"]), jnp.int32),
                        jnp.asarray(size, jnp.int32))


# ----------------------------------------------------------------------------- replay log


class ReplayLog:
    """Every transition of a run, appended row by row and written per checkpoint.

    Rows are in time order; row t is env step t (0-based): observations,
    actions, rewards, terminals (the env terminated), timeouts (the 1000-step
    limit truncated the episode), next_observations, infos/qpos and infos/qvel
    (MuJoCo state of the observation's step). Stored as float32, flags as bool.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: List[tuple] = []
        self.start = 0

    def truncate(self, step: int) -> None:
        """Forget chunks past `step` (written before a kill, after the last checkpoint)."""
        for start, end, path in chunk_files(self.folder):
            if start >= step:
                path.unlink()
            elif end > step:
                raise ValueError(f"{path} straddles the checkpoint step {step}; the replay log "
                                 "and the checkpoint disagree: start the run over.")
        self.rows, self.start = [], step

    def append(self, *row) -> None:
        """One row, the values in LOG_KEYS order."""
        self.rows.append(tuple(np.asarray(v) for v in row))

    def flush(self, step: int) -> None:
        """Write the rows since the last flush as chunk '<start>-<step>.npz' (atomically)."""
        if not self.rows:
            return
        if self.start + len(self.rows) != step:
            raise ValueError(f"replay log holds rows {self.start}..{self.start + len(self.rows)} "
                             f"but the run is at step {step}.")
        flags = ("terminals", "timeouts")
        arrays = {k: np.stack(column).astype(bool if k in flags else np.float32)
                  for k, column in zip(LOG_KEYS, zip(*self.rows))}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        checkpoints.atomic_write_bytes(self.folder / f"{self.start:09d}-{step:09d}.npz",
                                       buf.getvalue())
        self.rows, self.start = [], step


def chunk_files(folder) -> List[tuple]:
    """Sorted (start, end, path) of the chunks in `folder`."""
    found = []
    for path in Path(folder).glob("*.npz"):
        match = _CHUNK.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return sorted(found)


def load_replay_log(folder, upto: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Rows [0, upto) of a run's replay log in the D4RL layout.

    The last row gets timeouts = True unless it is terminal (its episode is cut).

    Raises:
        FileNotFoundError: no chunks, or they do not reach `upto` / have gaps.
    """
    chunks = chunk_files(folder)
    if not chunks:
        raise FileNotFoundError(f"no replay log chunks in {folder}; train_sac.py writes them "
                                "under <run_dir>/replay/ at each checkpoint.")
    upto = chunks[-1][1] if upto is None else int(upto)
    parts, reached = [], 0
    for start, end, path in chunks:
        if start >= upto:
            break
        if start != reached:
            raise FileNotFoundError(f"replay log in {folder} has a gap at step {reached}.")
        with np.load(path) as z:
            parts.append({k: z[k] for k in LOG_KEYS})
        reached = end
    if reached < upto:
        raise FileNotFoundError(f"replay log in {folder} ends at step {reached}, before {upto}; "
                                "pick a checkpoint the run has written.")
    data = {k: np.concatenate([p[k] for p in parts])[:upto] for k in LOG_KEYS}
    data["timeouts"][-1] |= ~data["terminals"][-1]
    return data
