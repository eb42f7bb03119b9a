"""Expert data D^e for CLUE's three settings (paper Sec. 4.2).

* Sparse reward: successful trajectories of the dataset itself: random
  successful episodes (or goal-directed segments), each cut after its first
  success step, those that begin at the goal left out (`select_experts`); or
  OTR's rule (`top_return_trajectories`). Which: `RunSettings.expert_rule`.
* Offline imitation: the first K trajectories of a demonstration dataset
  (`expert_from_demonstrations`).
* Unsupervised: K-means clusters of (s, a, s'), each a separate "expert"
  (`kmeans_clusters`, `cluster_experts`; Sec. 8.3's settings).

Episodes for the sparse setting are NOT the reference IQL trajectories
(`Dataset.dones_float`), which split at terminals: AntMaze marks terminal = 1
at every goal-reached step and the episode goes on. Here an episode ends only
where the observations are discontinuous, ||next_observations[i] -
observations[i + 1]|| > 1e-6 (and at the last row). With D4RL's
`qlearning_dataset` semantics a timeout row is dropped, which leaves exactly
such a gap, so this recovers episodes split at timeouts and resets. Pass
`episode_bounds` explicitly when a dataset's episodes are known otherwise.
"""

from typing import NamedTuple, Optional, Tuple

import numpy as np

from clue_jax.data.dataset import BOUNDARY_TOL, Dataset, DatasetError, trajectory_bounds

Bounds = Tuple[np.ndarray, np.ndarray]  # (starts, ends), ends exclusive
_NO_SUCCESS_FIX = ("Select experts on the raw sparse rewards (before shifts like AntMaze's "
                   "r - 1), use a larger dataset fraction, or provide demonstrations.")


class ExpertSelection(NamedTuple):
    """Chosen expert data.

    Attributes:
        dataset: the expert transitions, trajectories end to end (each one's
            last row has dones_float = 1).
        segments: (K, 2) int64 [start, end) rows of each trajectory in the source.
        message: a one-line account of what was chosen, for the log.
    """

    dataset: Dataset
    segments: np.ndarray
    message: str


def continuity_episode_bounds(dataset: Dataset, tol: float = BOUNDARY_TOL) -> Bounds:
    """Episodes split only at observation discontinuities (terminals ignored)."""
    n = dataset.size
    dones = np.zeros(n, np.float32)
    if n:
        gap = np.linalg.norm(dataset.observations[1:] - dataset.next_observations[:-1], axis=-1)
        dones[:-1] = gap > tol
        dones[-1] = 1.0
    return trajectory_bounds(dones)


def goal_episode_bounds(dataset: Dataset, goals: np.ndarray, tol: float = BOUNDARY_TOL) -> Bounds:
    """Episodes split at observation discontinuities AND where the steered-to goal changes.

    D4RL's maze data (and the generated mazes) steer to a goal, redrawn on arrival;
    'infos/goal' records it per row. A segment is then one goal-directed stretch:
    cut at a goal change, a successful segment is the stretch that steered to (or
    through) the task's goal, from where that stretch began.

    Args:
        goals: (N, goal_dim) goal of each transition (`factory.load_goals`).
    """
    goals = np.asarray(goals)
    if goals.shape[0] != dataset.size:
        raise DatasetError(f"goal_episode_bounds: {goals.shape[0]} goals for {dataset.size} "
                           "transitions; load them for the same (whole) dataset.")
    starts, ends = continuity_episode_bounds(dataset, tol)
    cut = np.zeros(dataset.size, bool)
    cut[starts] = True
    if dataset.size:
        cut[1:] |= np.any(goals[1:] != goals[:-1], axis=-1)
    new_starts = np.flatnonzero(cut)
    return new_starts, np.append(new_starts[1:], dataset.size)


def segments_dataset(dataset: Dataset, segments: np.ndarray) -> Dataset:
    rows = np.concatenate([np.arange(s, e) for s, e in segments])
    dones = np.zeros(len(rows), np.float32)
    dones[np.cumsum(segments[:, 1] - segments[:, 0]) - 1] = 1.0
    return dataset.select(rows).replace(dones_float=dones)


def successful_trajectories(dataset: Dataset, episode_bounds: Optional[Bounds] = None,
                            success_threshold: float = 0.0) -> np.ndarray:
    """Every successful episode, truncated after its first success step.

    A step succeeds when reward > success_threshold; apply this to the raw
    sparse rewards (before any shift such as AntMaze's r - 1). An episode whose
    first row already succeeds is left out: it begins at the goal and shows no
    way to it. (The generated mazes have such episodes, ~8% of the successful
    ones, and far more goal segments that begin where the data's controller
    redrew its goal on arrival at the task's goal; kept, they were drawn as
    1-step "experts".)

    Args:
        episode_bounds: (starts, ends) of episodes; default
            `continuity_episode_bounds(dataset)`.
    Returns:
        (M, 2) int64 [start, first_success + 1) per successful episode, in order.
    Raises:
        DatasetError: no episode has a successful step.
    """
    starts, ends = episode_bounds if episode_bounds is not None \
        else continuity_episode_bounds(dataset)
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    success = np.flatnonzero(dataset.rewards > success_threshold)
    episode = np.searchsorted(ends, success, side="right")  # episode holding each success row
    episode, first = np.unique(episode, return_index=True)  # first success row per episode
    begin, end = starts[episode], success[first] + 1
    way = end - begin > 1  # not already at the goal on its first row
    if not way.any():
        raise DatasetError(
            f"no successful trajectory: searched {len(starts)} episodes (split at observation "
            f"discontinuities, not terminals) of {dataset.size} transitions for a step with "
            f"reward > {success_threshold} after the first ({episode.size} episodes succeed "
            f"on their first row only). {_NO_SUCCESS_FIX}")
    return np.stack([begin[way], end[way]], axis=1).astype(np.int64)


def select_experts(dataset: Dataset, k: int, seed: int, episode_bounds: Optional[Bounds] = None,
                   success_threshold: float = 0.0) -> ExpertSelection:
    """At most K successful trajectories, chosen uniformly with `seed` (order kept).

    If fewer than K exist, all are used and the message says so.
    """
    if k < 1:
        raise ValueError(f"select_experts: k must be >= 1, got {k}.")
    segments = successful_trajectories(dataset, episode_bounds, success_threshold)
    m = len(segments)
    if m <= k:
        chosen = np.arange(m)
        note = (f"asked for {k} expert trajectories but only {m} successful ones exist; "
                f"using all {m}") if m < k else f"using all {m} successful trajectories"
    else:
        chosen = np.sort(np.random.default_rng(seed).choice(m, size=k, replace=False))
        note = f"selected {k} of {m} successful trajectories (seed {seed})"
    segments = segments[chosen]
    lengths = (segments[:, 1] - segments[:, 0]).tolist()
    return ExpertSelection(segments_dataset(dataset, segments), segments,
                           f"{note}; lengths {_short(lengths)}")


def _short(values: list, most: int = 10) -> str:
    """A list for a one-line message: the first `most` items, then how many more."""
    if len(values) <= most:
        return str(values)
    return f"{str(values[:most])[:-1]}, ... ({len(values) - most} more)]"


def check_same_dims(demos: Dataset, dataset: Dataset) -> None:
    """DatasetError unless demonstrations and the unlabelled dataset share obs/act dims."""
    if demos.obs_dim != dataset.obs_dim or demos.act_dim != dataset.act_dim:
        raise DatasetError(
            f"demonstrations have observations {demos.observations.shape} and actions "
            f"{demos.actions.shape} but the unlabelled dataset has observations "
            f"{dataset.observations.shape} and actions {dataset.actions.shape}; the per-step "
            "dims must match: use demonstrations from the same environment.")


def top_return_trajectories(dataset: Dataset, k: int, xy: Optional[Tuple[int, int]] = None,
                            start_xy: Optional[Tuple[float, float]] = None,
                            successful_only: bool = False) -> ExpertSelection:
    """OTR's expert rule: the K trajectories (reference boundaries) with the best score.

    score = return, or on maze domains (xy and start_xy given) return / (1e-4 +
    ||xy of the trajectory's first observation - start_xy||) (OTR's AntMaze rule,
    whose evaluation start is the origin). Ties keep dataset order.

    Args:
        xy: (first, last) columns of the observation holding the position.
        start_xy: the evaluation start position.
        successful_only: the sparse setting: only trajectories with a reward > 0
            (at most K of them; DatasetError if there is none).
    """
    if k < 1:
        raise ValueError(f"top_return_trajectories: k must be >= 1, got {k}.")
    starts, ends = trajectory_bounds(dataset.dones_float)
    returns = np.add.reduceat(dataset.rewards.astype(np.float64), starts)
    score = returns
    if xy is not None and start_xy is not None:
        first = dataset.observations[starts, xy[0]:xy[1]]
        score = returns / (1e-4 + np.linalg.norm(first - np.asarray(start_xy), axis=1))
    chosen = np.argsort(-score, kind="stable")[:k]
    if successful_only:
        success = np.maximum.reduceat(dataset.rewards, starts) > 0
        if not success.any():
            raise DatasetError(
                f"no successful trajectory: none of the {len(starts)} trajectories of "
                f"{dataset.size} transitions has a reward > 0. {_NO_SUCCESS_FIX}")
        chosen = chosen[success[chosen]]
    segments = np.stack([starts[chosen], ends[chosen]], axis=1).astype(np.int64)
    rule = "return / (1e-4 + distance of its start to the evaluation start)" \
        if xy is not None and start_xy is not None else "return"
    note = (f"the {len(chosen)} best of {len(starts)} trajectories by {rule} (OTR's rule); "
            f"returns {_short(returns[chosen].round(3).tolist())}, lengths "
            f"{_short((segments[:, 1] - segments[:, 0]).tolist())}")
    return ExpertSelection(segments_dataset(dataset, segments), segments, note)


def expert_from_demonstrations(demo_dataset: Dataset, k: int,
                               dataset: Optional[Dataset] = None) -> ExpertSelection:
    """The first K trajectories (reference boundaries) of a demonstration dataset.

    Args:
        dataset: the unlabelled dataset; its obs/act dims must match the demos'.
    """
    if k < 1:
        raise ValueError(f"expert_from_demonstrations: k must be >= 1, got {k}.")
    if dataset is not None:
        check_same_dims(demo_dataset, dataset)
    starts, ends = trajectory_bounds(demo_dataset.dones_float)
    m = len(starts)
    note = (f"asked for {k} demonstrations but the file has {m}; using all {m}" if m < k
            else f"using the first {k} of {m} demonstrations")
    segments = np.stack([starts, ends], axis=1)[:k].astype(np.int64)
    return ExpertSelection(segments_dataset(demo_dataset, segments), segments, note)


def kmeans_clusters(dataset: Dataset, n_clusters: int = 100, random_state: int = 1,
                    n_init: int = 1, max_iter: int = 300) -> np.ndarray:
    """K-means labels (N,) int of concat(s, a, s') (sklearn; Sec. 8.3's defaults)."""
    from sklearn.cluster import KMeans

    if dataset.size < n_clusters:
        raise DatasetError(f"kmeans_clusters: {dataset.size} transitions cannot form "
                           f"{n_clusters} clusters; lower n_clusters or use more data.")
    features = np.concatenate([dataset.observations, dataset.actions,
                               dataset.next_observations], axis=1).astype(np.float32)
    kmeans = KMeans(n_clusters=n_clusters, random_state=random_state, n_init=n_init,
                    max_iter=max_iter)
    return kmeans.fit_predict(features).astype(np.int64)


def cluster_experts(dataset: Dataset, labels: np.ndarray, cluster: int) -> Dataset:
    """The transitions of one K-means cluster, as the "expert" data of one skill."""
    mask = np.asarray(labels) == cluster
    if not mask.any():
        raise DatasetError(f"cluster {cluster} has no transitions (labels hold "
                           f"{len(np.unique(labels))} clusters).")
    return dataset.select(mask).replace(dones_float=np.ones(int(mask.sum()), np.float32))
