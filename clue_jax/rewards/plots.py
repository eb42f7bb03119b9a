"""Diagnostic figures of the reward labeller (matplotlib, Agg backend, files only).

* `plot_latent_embeddings`: expert vs non-expert embeddings, naive CVAE next to
  CLUE (paper Fig. 2), projected to 2-D (first two latent dims, or PCA).
* `plot_reward_correlation`: intrinsic vs ground-truth reward scatter with the
  Spearman rank correlation (paper Fig. 7, OTR's analysis).
"""

from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

Embeddings = Tuple[np.ndarray, np.ndarray]  # (expert (K, L), others (M, L))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def _subsample(x: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x if len(x) <= max_points else x[rng.choice(len(x), max_points, replace=False)]


def project_2d(expert: np.ndarray, others: np.ndarray, projection: str = "pca"
               ) -> Tuple[np.ndarray, np.ndarray]:
    """Both sets in 2-D: 'first2' latent dims, or 'pca' fitted on their union."""
    if projection == "first2" or expert.shape[1] <= 2:
        pad = lambda x: np.pad(x, ((0, 0), (0, max(0, 2 - x.shape[1]))))[:, :2]  # noqa: E731
        return pad(expert), pad(others)
    if projection != "pca":
        raise ValueError(f"projection={projection!r}: expected 'pca' or 'first2'.")
    both = np.concatenate([expert, others], 0)
    centre = both.mean(0)
    _, _, vt = np.linalg.svd(both - centre, full_matrices=False)
    return (expert - centre) @ vt[:2].T, (others - centre) @ vt[:2].T


def plot_latent_embeddings(path, panels: Dict[str, Embeddings], projection: str = "pca",
                           max_points: int = 5000, seed: int = 0, suptitle: str = "") -> Path:
    """Side-by-side scatter of expert and non-expert embeddings, one panel per model.

    Args:
        path: output image file (.png, .pdf, ...).
        panels: title -> (expert (K, L), others (M, L)) encoder means, e.g.
            {"CVAE (no calibration)": (...), "CLUE": (...)}.
        projection: 'pca' (per panel) or 'first2'.
        max_points: per set, subsampled with `seed`.
        suptitle: the figure's title (which run: dataset, method, K, seed).
    Returns:
        The written path. Each panel marks z_e (the expert mean) with a star.
    """
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (title, (expert, others)) in zip(axes[0], panels.items()):
        e2, o2 = project_2d(_subsample(expert, max_points, rng),
                            _subsample(others, max_points, rng), projection)
        ax.scatter(o2[:, 0], o2[:, 1], s=3, alpha=0.3, c="tab:gray", label="non-expert")
        ax.scatter(e2[:, 0], e2[:, 1], s=6, alpha=0.8, c="tab:red", label="expert")
        ax.scatter(*e2.mean(0), marker="*", s=250, c="gold", edgecolors="k", label="z_e")
        ax.set_title(title)
        ax.set_xlabel("PC 1" if projection == "pca" else "z[0]")
        ax.set_ylabel("PC 2" if projection == "pca" else "z[1]")
    axes[0][0].legend(loc="best", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return _save(fig, path)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    from scipy import stats

    return float(stats.spearmanr(np.asarray(x), np.asarray(y)).statistic)


def plot_reward_correlation(path, intrinsic: np.ndarray, ground_truth: np.ndarray,
                            title: Optional[str] = None, max_points: int = 20000,
                            seed: int = 0) -> float:
    """Scatter of intrinsic vs ground-truth rewards (N,) with Spearman's rho in the title.

    Returns:
        Spearman's rho over all N transitions (the scatter may be subsampled).
    """
    intrinsic, ground_truth = np.asarray(intrinsic).ravel(), np.asarray(ground_truth).ravel()
    if intrinsic.shape != ground_truth.shape:
        raise ValueError(f"plot_reward_correlation: intrinsic {intrinsic.shape} and ground "
                         f"truth {ground_truth.shape} rewards must be the same length.")
    rho = spearman(intrinsic, ground_truth)
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(intrinsic), min(max_points, len(intrinsic)), replace=False)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    levels = np.unique(ground_truth)
    if len(levels) <= 10:  # sparse rewards: one box of intrinsic rewards per true value
        ax.boxplot([intrinsic[ground_truth == v] for v in levels], showfliers=False)
        ax.set_xticks(range(1, len(levels) + 1),
                      [f"{v:g}\n(n={int((ground_truth == v).sum())})" for v in levels])
    else:
        ax.scatter(ground_truth[idx], intrinsic[idx], s=3, alpha=0.3)
    ax.set_xlabel("ground-truth reward")
    ax.set_ylabel("CLUE intrinsic reward")
    ax.set_title(f"{title + chr(10) if title else ''}Spearman rho = {rho:.3f}", fontsize=9)
    _save(fig, path)
    return rho
