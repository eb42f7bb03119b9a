"""The in-memory transition dataset, with the reference IQL's semantics.

A `Dataset` holds numpy arrays of N transitions (s, a, r, mask, s') plus
`dones_float`, the trajectory-boundary flag of the reference IQL:
done = terminal, or next_observations[i] differs from observations[i + 1] by
more than 1e-6, and the last transition is a boundary. Trajectories are the
runs of transitions that end at a boundary.

Everything here is plain numpy on the host; `to_device` moves a dataset into a
`Batch` of device arrays once, and `sample_batch` draws uniform batches with
replacement from it inside jitted code.
"""

import dataclasses
from typing import List, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax.types import Batch, PRNGKey

ACTION_CLIP = 1.0 - 1e-5  # reference: actions clipped to +-(1 - 1e-5)
ACTION_BOUND_TOL = 1.0 + 1e-3  # actions beyond this are refused, not clipped
BOUNDARY_TOL = 1e-6


class DatasetError(ValueError):
    """A dataset that cannot be used as given; the message says why and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """N transitions as numpy arrays (float32).

    Attributes:
        observations: (N, obs_dim).
        actions: (N, act_dim).
        rewards: (N,).
        masks: (N,), 1 - terminal.
        dones_float: (N,), 1.0 where a trajectory ends.
        next_observations: (N, obs_dim).
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    masks: np.ndarray
    dones_float: np.ndarray
    next_observations: np.ndarray

    @property
    def size(self) -> int:
        return int(self.observations.shape[0])

    def __len__(self) -> int:
        return self.size

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.actions.shape[1])

    def replace(self, **changes) -> "Dataset":
        return dataclasses.replace(self, **changes)

    def with_rewards(self, rewards: np.ndarray) -> "Dataset":
        """A copy with `rewards` (N,) swapped in; the length must match."""
        rewards = np.asarray(rewards, dtype=np.float32).reshape(-1)
        if rewards.shape[0] != self.size:
            raise DatasetError(
                f"rewards: got {rewards.shape[0]} values for a dataset of {self.size} "
                "transitions; relabel the same dataset the rewards were made for.")
        return self.replace(rewards=rewards)

    def select(self, index: np.ndarray) -> "Dataset":
        """Rows `index` (a boolean mask or integer index) of every array."""
        return Dataset(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))


def compute_dones(observations: np.ndarray, next_observations: np.ndarray,
                  terminals: np.ndarray) -> np.ndarray:
    """Reference IQL trajectory boundaries: (N,) float32."""
    n = observations.shape[0]
    dones = np.zeros(n, dtype=np.float32)
    if n == 0:
        return dones
    gap = np.linalg.norm(observations[1:] - next_observations[:-1], axis=-1) > BOUNDARY_TOL
    dones[:-1] = np.logical_or(gap, terminals[:-1] > 0)
    dones[-1] = 1.0
    return dones


def check_finite(arrays: dict, source: str) -> None:
    """Raise DatasetError naming the first key holding NaN/Inf and how many rows."""
    for key, value in arrays.items():
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.floating):
            continue
        bad = ~np.isfinite(value)
        if bad.any():
            rows = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim > 1 else bad
            first = np.flatnonzero(rows)[:5].tolist()
            raise DatasetError(
                f"{source}: key '{key}' has NaN/Inf in {int(rows.sum())} of {rows.shape[0]} rows "
                f"(first rows {first}); clean or regenerate the file before training.")


def make_dataset(observations, actions, rewards, terminals, next_observations,
                 *, clip_actions: bool = True, source: str = "dataset") -> Dataset:
    """Build and validate a Dataset from qlearning-style arrays.

    Args:
        observations, next_observations: (N, obs_dim).
        actions: (N, act_dim); clipped to +-(1 - 1e-5) when `clip_actions` (which
            refuses actions beyond +-(1 + 1e-3): rescale such data first).
        rewards, terminals: (N,) or (N, 1).
        source: named in error messages (a file path or dataset name).
    """
    arrays = dict(observations=np.asarray(observations, np.float32),
                  actions=np.asarray(actions, np.float32),
                  rewards=np.asarray(rewards, np.float32).reshape(-1),
                  terminals=np.asarray(terminals, np.float32).reshape(-1),
                  next_observations=np.asarray(next_observations, np.float32))
    n = arrays["observations"].shape[0]
    if n == 0:
        raise DatasetError(f"{source}: the dataset has no transitions; check the file or the "
                           "filters (fraction, expert selection) applied to it.")
    for key, value in arrays.items():
        if value.shape[0] != n:
            raise DatasetError(f"{source}: key '{key}' has {value.shape[0]} rows but "
                               f"'observations' has {n}; all arrays need one row per transition.")
    for key in ("observations", "actions", "next_observations"):
        if arrays[key].ndim != 2:
            raise DatasetError(f"{source}: key '{key}' should be 2-D (N, dim), got shape "
                               f"{arrays[key].shape}.")
    check_finite(arrays, source)
    actions = arrays["actions"]
    if clip_actions:
        largest = float(np.abs(actions).max()) if actions.size else 0.0
        if largest > ACTION_BOUND_TOL:
            rows = int((np.abs(actions) > ACTION_BOUND_TOL).any(axis=1).sum())
            raise DatasetError(
                f"{source}: actions reach {largest:.4g} in {rows} rows; the learners and envs "
                "here act in [-1, 1] (D4RL's convention), and clipping them would change the "
                "data. Rescale the file's actions into [-1, 1] (divide by the env's action "
                "bound) and save it again.")
        actions = np.clip(actions, -ACTION_CLIP, ACTION_CLIP)
    return Dataset(observations=arrays["observations"], actions=actions,
                   rewards=arrays["rewards"], masks=1.0 - arrays["terminals"],
                   dones_float=compute_dones(arrays["observations"], arrays["next_observations"],
                                             arrays["terminals"]),
                   next_observations=arrays["next_observations"])


def trajectory_bounds(dones_float: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of each trajectory, ends exclusive: two (T,) int arrays."""
    ends = np.flatnonzero(np.asarray(dones_float) > 0) + 1
    if ends.size == 0 or ends[-1] != len(dones_float):
        ends = np.append(ends, len(dones_float))
    starts = np.concatenate([[0], ends[:-1]])
    return starts.astype(np.int64), ends.astype(np.int64)


def trajectory_ids(dones_float: np.ndarray) -> np.ndarray:
    """(N,) index of the trajectory each transition belongs to."""
    starts, ends = trajectory_bounds(dones_float)
    return np.repeat(np.arange(len(starts)), ends - starts)


def trajectory_returns(rewards: np.ndarray, dones_float: np.ndarray) -> np.ndarray:
    """(T,) undiscounted return of each trajectory."""
    starts, _ = trajectory_bounds(dones_float)
    return np.add.reduceat(np.asarray(rewards, np.float64), starts) if len(rewards) else np.zeros(0)


def return_range_scale(rewards: np.ndarray, dones_float: np.ndarray) -> float:
    """1000 / (max_return - min_return) over trajectories (reference `normalize`)."""
    returns = trajectory_returns(rewards, dones_float)
    spread = float(returns.max() - returns.min()) if returns.size else 0.0
    if spread <= 0:
        raise DatasetError("reward scaling: every trajectory has the same return "
                           f"({returns[0] if returns.size else 'no trajectories'}), so "
                           "1000 / (max_return - min_return) is undefined; use reward_scaling='none'.")
    return 1000.0 / spread


def subsample_rows(dataset: Dataset, fraction: float, seed: int) -> Optional[np.ndarray]:
    """The rows `subsample_trajectories` keeps (None for fraction 1: every row)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"dataset fraction must be in (0, 1], got {fraction}.")
    if fraction == 1.0:
        return None
    starts, ends = trajectory_bounds(dataset.dones_float)
    keep = max(1, int(round(fraction * len(starts))))
    chosen = np.sort(np.random.default_rng(seed).choice(len(starts), size=keep, replace=False))
    return np.concatenate([np.arange(starts[i], ends[i]) for i in chosen])


def subsample_trajectories(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """A seeded random `fraction` of whole trajectories (at least one), order kept."""
    rows = subsample_rows(dataset, fraction, seed)
    return dataset if rows is None else dataset.select(rows)


def concatenate(datasets: List[Dataset]) -> Dataset:
    """Datasets joined end to end (each keeps its own trajectory boundaries)."""
    fields = [f.name for f in dataclasses.fields(Dataset)]
    return Dataset(**{k: np.concatenate([getattr(d, k) for d in datasets]) for k in fields})


def to_device(dataset: Dataset, rewards: Optional[np.ndarray] = None) -> Batch:
    """The whole dataset as one Batch of device arrays (placed by JAX's default device)."""
    return Batch(observations=jnp.asarray(dataset.observations),
                 actions=jnp.asarray(dataset.actions),
                 rewards=jnp.asarray(dataset.rewards if rewards is None else rewards),
                 masks=jnp.asarray(dataset.masks),
                 next_observations=jnp.asarray(dataset.next_observations))


class MixedBatch(NamedTuple):
    """Two device-resident sources sampled side by side (SQIL's batch: offline + expert).

    `sample_batch` draws `batch_size` rows from each and concatenates them
    (offline first), so a batch has 2 * batch_size rows, half from `expert`.
    """

    offline: Batch
    expert: Batch


class DemoData(NamedTuple):
    """What the DICE learners and IQ-Learn sample: the union of dataset and demonstrations,
    the demonstrations alone, and the union's initial states (device arrays).

    `sample_batch` draws `batch_size` rows from each of the three, independently,
    and returns a DemoData of those batches.
    """

    union: Batch
    expert: Batch
    initial_observations: jax.Array


def initial_observations(dataset: Dataset) -> np.ndarray:
    """The first observation of every trajectory (`dones_float` boundaries): (T, obs_dim)."""
    starts, _ = trajectory_bounds(dataset.dones_float)
    return dataset.observations[starts]


ABSORBING_ACTIONS = ("terminal", "zeros", "random")


def add_absorbing_states(dataset: Dataset, actions: str = "terminal",
                         rng: Optional[np.random.Generator] = None) -> Dataset:
    """Absorbing-state augmentation of SMODICE and ValueDICE (Kostrikov et al. 2019).

    Every observation gains an indicator dimension (0 for real states). Each
    terminal row (mask 0) gets next_observation = the absorbing state (zeros,
    indicator 1), and a row (absorbing, action, reward 0, mask 0, absorbing) is
    appended after it, ending its trajectory. Masks are kept, so terminals still
    cut bootstrapping where a learner uses them (SMODICE). The absorbing rows'
    action: 'terminal' (the terminal row's, SMODICE's code), 'zeros' (ValueDICE's
    expert data) or 'random' (uniform in [-1, 1] from `rng`, ValueDICE's replay data).
    A labeller may score the absorbing rows (`real_rows` tells them apart).
    """
    if actions not in ABSORBING_ACTIONS:
        raise ValueError(f"absorbing actions {actions!r}: expected one of {ABSORBING_ACTIONS}.")
    n, d = dataset.size, dataset.obs_dim
    absorbing = np.zeros(d + 1, np.float32)
    absorbing[-1] = 1.0

    def widen(x):
        return np.concatenate([x, np.zeros((x.shape[0], 1), np.float32)], 1)

    obs, next_obs = widen(dataset.observations), widen(dataset.next_observations)
    terminal = np.flatnonzero(dataset.masks == 0)
    next_obs[terminal] = absorbing
    rows = np.arange(n + len(terminal))
    # Original row i moves down by the number of terminals before it; each terminal's
    # absorbing row follows it.
    position = np.arange(n) + np.searchsorted(terminal, np.arange(n), side="left")
    extra = position[terminal] + 1
    out = {name: np.zeros((len(rows),) + getattr(dataset, name).shape[1:], np.float32)
           for name in ("actions", "rewards", "masks", "dones_float")}
    out["observations"] = np.zeros((len(rows), d + 1), np.float32)
    out["next_observations"] = np.zeros((len(rows), d + 1), np.float32)
    for name, value in (("observations", obs), ("next_observations", next_obs),
                        ("actions", dataset.actions), ("rewards", dataset.rewards),
                        ("masks", dataset.masks), ("dones_float", dataset.dones_float)):
        out[name][position] = value
    out["observations"][extra] = absorbing
    out["next_observations"][extra] = absorbing
    if actions == "terminal":
        out["actions"][extra] = dataset.actions[terminal]
    elif actions == "random":
        if rng is None:
            raise ValueError("absorbing actions 'random' need an rng.")
        out["actions"][extra] = rng.uniform(-1.0, 1.0, (len(terminal), dataset.act_dim))
    out["dones_float"][position[terminal]] = 0.0  # the trajectory now ends at its absorbing row
    out["dones_float"][extra] = 1.0
    return Dataset(**out)


def real_rows(observations: np.ndarray) -> np.ndarray:
    """Rows of absorbing-augmented observations (last column the indicator) that are real
    states, not the absorbing state: bool (N,)."""
    return np.asarray(observations)[:, -1] == 0.0


def real_states(observations: np.ndarray, absorbing: bool) -> np.ndarray:
    """The real states' own dims: with `absorbing`, the rows that are not the absorbing
    state, without the indicator column; else the observations as they are."""
    return observations[real_rows(observations), :-1] if absorbing else observations


def sample_batch(data, key: PRNGKey, batch_size: int) -> Batch:
    """Uniform batch with replacement from a device-resident Batch (jittable).

    For a `MixedBatch`, `batch_size` rows from each source, concatenated (2 * batch_size).
    For a `DemoData`, a DemoData of `batch_size` rows of each of its three parts.
    """
    if isinstance(data, DemoData):
        keys = jax.random.split(key, 3)
        n = data.initial_observations.shape[0]
        initial = data.initial_observations[jax.random.randint(keys[2], (batch_size,), 0, n)]
        return DemoData(sample_batch(data.union, keys[0], batch_size),
                        sample_batch(data.expert, keys[1], batch_size), initial)
    if isinstance(data, MixedBatch):
        offline_key, expert_key = jax.random.split(key)
        parts = (sample_batch(data.offline, offline_key, batch_size),
                 sample_batch(data.expert, expert_key, batch_size))
        return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b], 0), *parts)
    return sample_rows(data, key, batch_size, data.observations.shape[0])


def sample_rows(data: Batch, key: PRNGKey, batch_size: int, count) -> Batch:
    """Uniform batch with replacement from the first `count` rows of a device Batch
    (jittable; `count` may be traced, e.g. per seed under vmap, the rest being padding)."""
    idx = jax.random.randint(key, (batch_size,), 0, count)
    return jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), data)
