"""D4RL HDF5 files: read, write, `qlearning_dataset`, and D4RL's cache folder.

The `d4rl` package is never required. Facts taken from D4RL (d4rl/__init__.py,
d4rl/offline_env.py, d4rl/infos.py):

* `get_dataset` reads every HDF5 dataset in the file by its path ('infos/qpos',
  'metadata/algorithm', ...) and squeezes (N, 1) rewards and terminals.
* `qlearning_dataset` iterates i over [0, N - 1) and takes s' from
  observations[i + 1]; a stored `next_observations` array is IGNORED (the
  v2 locomotion files carry one, antmaze files do not). A row whose `timeouts`
  flag is set is skipped (unless terminate_on_end=True, which keeps it without
  marking it terminal); the last row is always dropped. Files without
  `timeouts` fall back to counting episode steps against the env's
  `_max_episode_steps` (here: the `max_episode_steps` argument).
* Downloads land in $D4RL_DATASET_DIR (default ~/.d4rl/datasets) under the
  basename of the dataset URL.
"""

import os
from typing import Dict, List, Optional, Sequence

import h5py
import numpy as np

from clue_jax import checkpoints
from clue_jax.data.dataset import DatasetError

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")
_VECTOR_KEYS = ("observations", "actions", "next_observations")  # kept 2-D
_RAIL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"
_ANTMAZE_FILES = {
    "umaze": "u-maze_noisy_multistart_False_multigoal_False",
    "umaze-diverse": "u-maze_noisy_multistart_True_multigoal_True",
    "medium-play": "big-maze_noisy_multistart_True_multigoal_False",
    "medium-diverse": "big-maze_noisy_multistart_True_multigoal_True",
    "large-play": "hardest-maze_noisy_multistart_True_multigoal_False",
    "large-diverse": "hardest-maze_noisy_multistart_True_multigoal_True",
}


# antmaze-*-v1's files name the mazes otherwise (umaze / medium / large).
_ANTMAZE_V1_MAZES = {"u-maze": "umaze", "big-maze": "medium", "hardest-maze": "large"}


def _build_urls() -> Dict[str, str]:
    urls = {}
    for k, v in _ANTMAZE_FILES.items():
        urls[f"antmaze-{k}-v2"] = f"{_RAIL}/ant_maze_v2/Ant_maze_{v}_sparse_fixed.hdf5"
        urls[f"antmaze-{k}-v0"] = f"{_RAIL}/ant_maze_new/Ant_maze_{v}_sparse.hdf5"
        maze, rest = v.split("_", 1)
        urls[f"antmaze-{k}-v1"] = (f"{_RAIL}/ant_maze_v1/Ant_maze_{_ANTMAZE_V1_MAZES[maze]}_"
                                   f"{rest}_sparse.hdf5")
    for env in ("hopper", "halfcheetah", "walker2d", "ant"):
        for kind in ("random", "medium", "medium-replay", "medium-expert", "expert"):
            stem = f"{env}_{kind.replace('-', '_')}-v2"
            urls[f"{env}-{kind}-v2"] = f"{_RAIL}/gym_mujoco_v2/{stem}.hdf5"
    for env in ("pen", "door", "hammer", "relocate"):
        for kind in ("human", "cloned", "expert"):
            urls[f"{env}-{kind}-v1"] = f"{_RAIL}/hand_dapg_v1/{env}-{kind}-v1.hdf5"
        # the v0 files (the paper's Table 2): human demos, BC-combined "cloned", expert
        for kind, stem in (("human", f"{env}-v0_demos_clipped"),
                           ("cloned", f"{env}-demos-v0-bc-combined"),
                           ("expert", f"{env}-v0_expert_clipped")):
            urls[f"{env}-{kind}-v0"] = f"{_RAIL}/hand_dapg/{stem}.hdf5"
    for maze in ("umaze", "medium", "large"):
        urls[f"maze2d-{maze}-v1"] = f"{_RAIL}/maze2d/maze2d-{maze}-sparse-v1.hdf5"
    return urls


D4RL_URLS: Dict[str, str] = _build_urls()


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file that is not where it was looked for; the message says how to get it."""


# ----------------------------------------------------------------------------- HDF5 I/O


def load_hdf5(path: str) -> Dict[str, np.ndarray]:
    """Read a D4RL-layout HDF5 file into a flat dict.

    Every HDF5 dataset is read under its path ('observations', 'infos/qpos');
    attributes of the root and of the 'metadata' group become 'metadata/<name>'.
    (N, 1) arrays are squeezed to (N,), except observations, actions and
    next_observations, which stay 2-D.

    Args:
        path: the .hdf5 file.

    Returns:
        dict of numpy arrays (scalars for metadata).

    Raises:
        DatasetNotFoundError: no file at `path`.
        DatasetError: unreadable file, missing required keys, or row counts that differ.
    """
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"{path}: no such file; check the path (--dataset_path).")
    data: Dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name, item):
                if isinstance(item, h5py.Dataset):
                    data[name] = item[()]
            f.visititems(visit)
            for owner in (f, f.get("metadata")):
                if isinstance(owner, h5py.Group):
                    for attr, value in owner.attrs.items():
                        data.setdefault(f"metadata/{attr}", value)
    except OSError as e:
        raise DatasetError(
            f"{path}: cannot be read as HDF5 ({e}). The file may be truncated (an interrupted "
            "download or copy): delete it and download it again.") from e
    for key, value in data.items():
        if (isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == 1
                and key not in _VECTOR_KEYS):
            data[key] = value[:, 0]
    _check_layout(data, path)
    return data


def _check_layout(data: Dict[str, np.ndarray], source: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        present = sorted(k for k in data if not k.startswith("metadata/"))
        raise DatasetError(
            f"{source}: missing required key(s) {missing} (found {present}); a D4RL-layout "
            f"file needs {list(REQUIRED_KEYS)} with one row per step, 'timeouts' optional.")
    n = len(data["observations"])
    for key in REQUIRED_KEYS + ("timeouts", "next_observations"):
        if key in data and len(data[key]) != n:
            raise DatasetError(f"{source}: key '{key}' has {len(data[key])} rows but "
                               f"'observations' has {n}; the file is inconsistent.")


def save_hdf5(path: str, data: Dict[str, np.ndarray], metadata: Optional[dict] = None,
              gzip: bool = False) -> str:
    """Write `data` in the D4RL layout, atomically.

    Keys with '/' become nested groups ('infos/qpos'); `metadata` items become
    attributes of the 'metadata' group. The file is written to a temporary name
    in the same folder, fsynced, then renamed over `path`, so `path` is either
    the old file or the complete new one.

    Args:
        path: destination .hdf5 file (its folder is created).
        data: name -> array (N rows for per-step arrays).
        metadata: optional name -> scalar/str/small array.
        gzip: compress non-scalar arrays with gzip.

    Returns:
        `path`.
    """
    with checkpoints.atomic_file(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in data.items():
                value = np.asarray(value)
                f.create_dataset(key, data=value,
                                 compression="gzip" if gzip and value.ndim > 0 else None)
            if metadata:
                group = f.require_group("metadata")
                for key, value in metadata.items():
                    group.attrs[key] = value
    return path


# ----------------------------------------------------------------------------- qlearning_dataset


def _legacy_final_steps(terminals: np.ndarray, max_steps: int,
                        terminate_on_end: bool) -> np.ndarray:
    """D4RL's episode-step counter for files without `timeouts`: (M,) bool.

    D4RL counts steps and calls step i final when the counter equals
    max_steps - 1. After a skipped final step the counter restarts at 0; after a
    kept row that ends an episode (a terminal, or a final one when
    terminate_on_end) it restarts at 1. Solved in closed form between terminals
    (one Python iteration per terminal, not per row).
    """
    m = len(terminals)
    final = np.zeros(m, dtype=bool)
    after_final = 1 if terminate_on_end else 0
    period = max_steps - after_final
    counter, start = 0, 0
    for end in np.append(np.flatnonzero(terminals), m):
        stop = min(end + 1, m)
        first = start + (max_steps - 1 - counter)
        if counter <= max_steps - 1 and first < stop:
            final[first:stop:period if period > 0 else m + 1] = True
        if end < m:
            counter = after_final if final[end] else 1
        start = end + 1
    return final


def qlearning_dataset(raw: Dict[str, np.ndarray], *, terminate_on_end: bool = False,
                      max_episode_steps: Optional[int] = None,
                      use_stored_next_obs: bool = False,
                      carry: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Transitions (s, a, r, s', terminal) with d4rl.qlearning_dataset's semantics.

    Default (d4rl exactly): rows i in [0, N - 1); s' = observations[i + 1]
    (a stored `next_observations` is ignored, as d4rl does); rows with
    `timeouts[i]` set are dropped, so the last row and every timeout row are gone.

    Args:
        raw: D4RL-layout dict from `load_hdf5` (observations (N, obs_dim), actions
            (N, act_dim), rewards (N,), terminals (N,), optional timeouts (N,)).
        terminate_on_end: keep the timeout rows too (d4rl's flag; like d4rl, their
            terminal flag is left as stored).
        max_episode_steps: without `timeouts`, d4rl finds final steps by counting
            steps up to the env's max episode length; pass it here. Without both,
            no row is treated as final.
        use_stored_next_obs: not d4rl: take s' from raw['next_observations'] and
            consider all N rows (for sources with true next states, e.g. Minari).
        carry: other per-row keys of `raw` (e.g. 'infos/goal') to return for the
            same rows, as stored.

    Returns:
        dict observations, next_observations (M, obs_dim) float32, actions
        (M, act_dim) float32, rewards (M,) float32, terminals (M,) bool, and the
        `carry` keys (M, ...).
    """
    missing = [key for key in carry if key not in raw]
    if missing:
        raise DatasetError(f"qlearning_dataset: the data has no {missing}; it holds "
                           f"{sorted(raw)}.")
    _check_layout(raw, "qlearning_dataset input")
    obs = np.asarray(raw["observations"])
    n = len(obs)
    if use_stored_next_obs:
        if "next_observations" not in raw:
            raise DatasetError("qlearning_dataset: use_stored_next_obs=True but the data has no "
                               "'next_observations'; use the default (s' = next row).")
        m, next_obs = n, np.asarray(raw["next_observations"])
    else:
        m, next_obs = max(n - 1, 0), obs[1:]
    terminals = np.asarray(raw["terminals"]).reshape(n)[:m].astype(bool)
    if "timeouts" in raw:
        final = np.asarray(raw["timeouts"]).reshape(n)[:m].astype(bool)
    elif max_episode_steps is not None:
        final = _legacy_final_steps(terminals, int(max_episode_steps), terminate_on_end)
    else:
        final = np.zeros(m, dtype=bool)
    keep = np.ones(m, dtype=bool) if terminate_on_end else ~final
    return {
        "observations": obs[:m][keep].astype(np.float32, copy=False),
        "actions": np.asarray(raw["actions"])[:m][keep].astype(np.float32, copy=False),
        "next_observations": next_obs[:m][keep].astype(np.float32, copy=False),
        "rewards": np.asarray(raw["rewards"]).reshape(n)[:m][keep].astype(np.float32, copy=False),
        "terminals": terminals[keep],
        **{key: np.asarray(raw[key])[:m][keep] for key in carry},
    }


# ----------------------------------------------------------------------------- D4RL cache


def d4rl_cache_dir() -> str:
    """D4RL's dataset folder: $D4RL_DATASET_DIR, else ~/.d4rl/datasets (not created)."""
    return os.environ.get("D4RL_DATASET_DIR") or os.path.expanduser("~/.d4rl/datasets")


def _url(name: str) -> str:
    if name not in D4RL_URLS:
        raise DatasetError(
            f"unknown D4RL dataset name '{name}'; known names: {sorted(D4RL_URLS)}. For another "
            "D4RL-layout file pass its path (--dataset_path).")
    return D4RL_URLS[name]


def d4rl_path(name: str) -> str:
    """Where D4RL's downloader keeps dataset `name`: cache dir + basename of its URL."""
    return os.path.join(d4rl_cache_dir(), os.path.basename(_url(name)))


def _candidate_paths(name: str) -> List[str]:
    folder = d4rl_cache_dir()
    paths = [os.path.join(folder, f"{name}.hdf5")]
    if name in D4RL_URLS:
        paths.insert(0, d4rl_path(name))
    return paths


OFFLINE_ENV = "CLUE_JAX_OFFLINE"


def offline() -> bool:
    """$CLUE_JAX_OFFLINE set to 1/true/yes: never download (as --nodownload)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def resolve_d4rl_path(name: str, path: Optional[str] = None, download: bool = False) -> str:
    """The file holding D4RL dataset `name`: `path`, a cached file, or a fresh download.

    Raises:
        DatasetNotFoundError: nothing found and `download` is False; the message
            lists every place looked at and the fixes.
    """
    if path is not None:
        if not os.path.isfile(path):
            raise DatasetNotFoundError(
                f"dataset '{name}': --dataset_path {path} does not exist; fix the path, or drop "
                f"it to use D4RL's cache ({d4rl_cache_dir()}).")
        return path
    candidates = _candidate_paths(name)
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    if download and name in D4RL_URLS and not offline():
        from clue_jax.data.download import HDF5_SIGNATURE
        from clue_jax.data.download import download as fetch
        print(f"[clue_jax] downloading D4RL dataset '{name}' from {D4RL_URLS[name]} into "
              f"{d4rl_cache_dir()} (offline: --nodownload or ${OFFLINE_ENV}=1)")
        return fetch(_url(name), d4rl_path(name), signature=HDF5_SIGNATURE)
    expected = os.path.basename(D4RL_URLS[name]) if name in D4RL_URLS else f"{name}.hdf5"
    looked = "\n".join(f"  - {p}" for p in candidates)
    raise DatasetNotFoundError(
        f"D4RL dataset '{name}' not found. Looked in:\n{looked}\n"
        f"Expected file name: {expected} in $D4RL_DATASET_DIR (now {d4rl_cache_dir()}).\n"
        + ("Downloads are off (--nodownload or $" + OFFLINE_ENV + "=1). "
           if name in D4RL_URLS and (offline() or not download) else "")
        + "Fix: let it download (the default; it fetches "
        + (f"{D4RL_URLS[name]})" if name in D4RL_URLS else "nothing: unknown name)")
        + ", set $D4RL_DATASET_DIR to the folder that holds it, or pass --dataset_path FILE.")


def load_d4rl(name: str, path: Optional[str] = None,
              download: bool = False) -> Dict[str, np.ndarray]:
    """The raw D4RL-layout dict of dataset `name` (see `resolve_d4rl_path`)."""
    return load_hdf5(resolve_d4rl_path(name, path=path, download=download))
