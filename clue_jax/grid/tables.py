"""A grid's results: results.csv (one row per run), results.md (mean +- std over seeds per
task and column, totals; rliable's IQM and mean with 95% stratified-bootstrap intervals)
and results.png (their interval plot); `difference` compares two sets of seeds."""

import csv
import json
import warnings
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from clue_jax.grid.cells import Cell
from clue_jax.grid.methods import column_name

LAST_N = 3  # score = mean of the last LAST_N evaluations


def collect(cells: List[Cell], out: Path) -> List[Dict]:
    rows = []
    for cell in cells:
        path = cell.run_dir(out) / "results.json"
        if path.exists():
            res = json.loads(path.read_text())
            rows.append({"task": cell.task, "method": cell.method, "k": cell.k or "",
                         "seed": cell.seed, "score": run_score(res),
                         "final": res["final_normalized_score"],
                         "steps": res["steps"], "wall_time_s": res.get("wall_time_s"),
                         **fingerprints(path.parent)})
    return rows


def fingerprints(run_dir: Path) -> Dict[str, Any]:
    """A run's data: its transitions' count (config.json's dataset_size, which every run
    records) and fingerprint (provenance.data, `records.fingerprint`), and its experts'
    fingerprint (experts.json); '' where the run has none (no experts, or a run older
    than the fingerprints)."""
    def read(name: str) -> Dict:
        try:
            return json.loads((run_dir / name).read_text())
        except (OSError, ValueError):
            return {}
    config = read("config.json")
    data = config.get("provenance", {}).get("data") or {}
    return {"data_rows": config.get("dataset_size", ""), "data": data.get("sha256", ""),
            "experts": read("experts.json").get("sha256", "")}


def mixed_data(rows: List[Dict], where: str = "results.csv's `data` and `data_rows` columns"
               ) -> List[str]:
    """One line per task whose runs learned from different data, else nothing: their
    fingerprints differ or, for runs older than the fingerprints, their transition counts
    do (e.g. a generated dataset made on two platforms). `where` names where a reader finds
    each run's."""
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows):
        for key, what in (("data", "fingerprints"), ("data_rows", "transition counts")):
            counts: Dict[str, int] = {}
            for r in rows:
                if r["task"] == task and r.get(key, "") != "":
                    counts[str(r[key])] = counts.get(str(r[key]), 0) + 1
            if len(counts) > 1:
                lines.append(f"- {task}: the runs learned from {len(counts)} different datasets "
                             f"(by {what}: " + ", ".join(
                                 f"{v}: {n} run{'s' * (n > 1)}" for v, n in counts.items())
                             + f"; {where} say which run used which)")
                break
    return lines


def run_score(result: Dict, at_step: Optional[int] = None) -> Optional[float]:
    """A run's score: the mean of its last LAST_N evaluations (of those at or before
    `at_step` when given) from results.json's history; None without evaluations."""
    history = [(step, score) for step, score in result["history"]
               if at_step is None or step <= at_step]
    scores = [score for _, score in history[-LAST_N:]]
    return float(np.mean(scores)) if scores else None


def difference(a: Sequence[float], b: Sequence[float], resamples: int = 20000,
               seed: int = 0) -> Dict[str, float]:
    """mean(a) - mean(b) for two independent sets of per-seed scores: the difference, its 95%
    percentile-bootstrap interval (each set resampled on its own, `resamples` times), Welch's
    t-test p (two-sided) and rliable's probability of improvement P(a > b)."""
    from rliable import metrics  # heavy imports, only when comparing
    from scipy import stats
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"a comparison needs at least 2 scores on each side, got "
                         f"{a.size} and {b.size}")
    boot = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                           n_resamples=resamples, method="percentile", vectorized=True,
                           rng=np.random.default_rng(seed))
    with warnings.catch_warnings():  # two constant sets: p is nan, said by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        welch = stats.ttest_ind(a, b, equal_var=False)
    return {"difference": float(a.mean() - b.mean()),
            "low": float(boot.confidence_interval.low),
            "high": float(boot.confidence_interval.high),
            "welch_p": float(welch.pvalue),
            "p_improvement": float(metrics.probability_of_improvement(a[:, None], b[:, None]))}


def difference_caption(resamples: int = 20000, seed: int = 0, per: str = "") -> str:
    """The sentence above a table of `difference` rows (`per`: e.g. ' per row')."""
    return (f"Differences of the means{per}, 95% percentile-bootstrap interval over seeds "
            f"({resamples} resamples, seed {seed}), Welch's t-test, rliable's probability of "
            f"improvement P(A > B):")


def difference_cells(d: Dict[str, float]) -> str:
    """A `difference` result as markdown cells: difference [interval] | Welch p | P(A > B)."""
    return (f"{d['difference']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] | {d['welch_p']:.3f} | "
            f"{d['p_improvement']:.2f}")

def table(rows: List[Dict], cells: List[Cell], failed: Sequence[Cell] = (),
          k_rows: bool = False) -> str:
    """Markdown: tasks x columns of mean +- std over seeds, a total row, failed cells listed.

    A column's total is shown only when every task has a score in it (a partial sum
    would read like a worse method); empty cells are '–', never 0. With `k_rows`
    (the paper's Table 4 layout) rows are (K, task) and columns methods; a method
    without experts (true rewards) shows the same runs in every K's rows.
    """
    if k_rows:
        columns = list(dict.fromkeys(c.method.upper() for c in cells))
        ks = sorted({c.k for c in cells if c.k is not None})
        tasks = [f"K={k} {t}" for k in ks for t in dict.fromkeys(c.task for c in cells)]
    else:
        columns = list(dict.fromkeys(c.column for c in cells))
        tasks = list(dict.fromkeys(c.task for c in cells))
    by, unscored = {}, {}
    for r in rows:
        if r["score"] is None:  # a run without evaluations (--eval_episodes=0)
            key = (r["task"], column_name(r["method"], r["k"]) if not k_rows
                   else r["method"].upper())
            unscored[key] = unscored.get(key, 0) + 1
            continue
        if k_rows:
            for k in ([r["k"]] if r["k"] != "" else ks):
                by.setdefault((f"K={k} {r['task']}", r["method"].upper()), []).append(r["score"])
            continue
        col = column_name(r["method"], r["k"])
        by.setdefault((r["task"], col), []).append(r["score"])
    lines = ["| Dataset | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for task in tasks:
        cells_txt = []
        for col in columns:
            s = np.asarray(by.get((task, col), []), float)
            blank = unscored.get((task.split(" ", 1)[-1] if k_rows else task, col))
            cells_txt.append(f"{s.mean():.1f} ± {s.std():.1f} (n={s.size})" if s.size else
                             f"– ({blank} without evaluation)" if blank else "–")
        lines.append(f"| {task} | " + " | ".join(cells_txt) + " |")
    groups = ([(f"total K={k}", [t for t in tasks if t.startswith(f"K={k} ")]) for k in ks]
              if k_rows else [("total", tasks)])
    for label, group in groups:  # Table 4 sums each K's rows apart
        sums = []
        for col in columns:
            s = [np.mean(by[(t, col)]) for t in group if by.get((t, col))]
            sums.append(f"{sum(s):.1f}" if len(s) == len(group) else "–")
        lines.append(f"| {label} | " + " | ".join(sums) + " |")
    mixed = mixed_data(rows)
    if mixed:
        lines += ["", "MIXED DATA: compare these tasks' columns with care:"] + mixed
    if failed:
        lines += ["", f"FAILED cells ({len(failed)}; see <out>/logs/):"]
        lines += [f"- {c.task} {c.method} K={c.k} seed {c.seed}" for c in failed]
    return "\n".join(lines) + "\n"


BOOTSTRAP_REPS = 5000


def score_matrices(rows: List[Dict], cells: List[Cell]) -> Dict[str, np.ndarray]:
    """Column -> (seeds, tasks) scores, for the columns every task of the grid has with the
    same seeds (rliable's stratified bootstrap needs a full matrix); others are left out.
    Columns come in the grid's order, whatever order the rows come in (joined files)."""
    tasks = list(dict.fromkeys(c.task for c in cells))
    by = {}
    for r in rows:
        if r["score"] is None:
            continue
        by.setdefault(column_name(r["method"], r["k"]), {}).setdefault(r["task"], {})[
            r["seed"]] = r["score"]
    out = {}
    order = list(dict.fromkeys(column_name(c.method, c.k) for c in cells))
    for column in sorted(by, key=lambda name: order.index(name) if name in order else len(order)):
        per_task = by[column]
        seeds = [set(per_task.get(t, {})) for t in tasks]
        if not seeds[0] or any(s != seeds[0] for s in seeds):
            continue
        out[column] = np.array([[per_task[t][s] for t in tasks] for s in sorted(seeds[0])],
                               np.float64)
    return out


def column_seed(column: str, seed: int = 0) -> int:
    """The bootstrap seed of one column: `seed` and the column's name, so a column's
    intervals do not depend on which other columns the table has."""
    return (seed + zlib.crc32(column.encode())) % 2**32


def aggregates(matrices: Dict[str, np.ndarray], seed: int = 0
               ) -> Dict[str, Dict[str, Tuple[float, float, float]]]:
    """Column -> {'IQM', 'Mean'} -> (point, low, high): rliable's interquartile mean and mean
    over every (seed, task) score, 95% stratified-bootstrap percentile intervals, each
    column resampled on its own (`column_seed`)."""
    if not matrices:
        return {}
    from rliable import library as rly, metrics  # heavy imports, only when aggregating
    funcs = {"IQM": metrics.aggregate_iqm, "Mean": metrics.aggregate_mean}
    result = {column: {} for column in matrices}
    saved = np.random.get_state()  # rliable resamples with NumPy's global RNG
    try:
        for column, matrix in matrices.items():
            for name, func in funcs.items():
                np.random.seed(column_seed(column, seed))
                points, intervals = rly.get_interval_estimates(
                    {column: matrix}, lambda x, f=func: np.array([f(x)]), reps=BOOTSTRAP_REPS)
                result[column][name] = (float(points[column][0]),
                                        float(intervals[column][0, 0]),
                                        float(intervals[column][1, 0]))
    finally:
        np.random.set_state(saved)
    return result


def aggregate_table(stats: Dict[str, Dict[str, Tuple[float, float, float]]],
                    matrices: Dict[str, np.ndarray]) -> str:
    if not stats:
        return ""
    lines = ["", f"Aggregates over tasks and seeds (rliable: interquartile mean and mean of every "
             f"run's score, 95% stratified-bootstrap intervals, {BOOTSTRAP_REPS} resamples; "
             "columns with every task and the same seeds only):", "",
             "| Method | runs | IQM [95% CI] | Mean [95% CI] |", "|---|---|---|---|"]
    for column, by_metric in stats.items():
        cells_txt = [f"{p:.1f} [{lo:.1f}, {hi:.1f}]" for p, lo, hi in
                     (by_metric["IQM"], by_metric["Mean"])]
        lines.append(f"| {column} | {matrices[column].size} | " + " | ".join(cells_txt) + " |")
    return "\n".join(lines) + "\n"


def plot_aggregates(stats, path: Path) -> None:
    """results.png: rliable's interval plot of the IQM and mean of every aggregated column."""
    import matplotlib
    matplotlib.use("Agg")
    from rliable import plot_utils
    columns = list(stats)
    points = {c: np.array([stats[c]["IQM"][0], stats[c]["Mean"][0]]) for c in columns}
    intervals = {c: np.array([[stats[c]["IQM"][1], stats[c]["Mean"][1]],
                              [stats[c]["IQM"][2], stats[c]["Mean"][2]]]) for c in columns}
    fig, axes = plot_utils.plot_interval_estimates(points, intervals, ["IQM", "Mean"],
                                                algorithms=columns,
                                                xlabel="Normalized score (x100)")
    # rliable puts the x label at a fixed figure fraction, which overlaps the tick labels
    # when there are few rows: hang it just below the tick labels instead
    fig.canvas.draw()
    ticks = np.ravel(axes)[0].xaxis.get_tightbbox(fig.canvas.get_renderer())
    label = fig.texts[-1]
    label.set_verticalalignment("top")
    label.set_y(fig.transFigure.inverted().transform((0, ticks.y0))[1] - 0.02)
    fig.savefig(path, bbox_inches="tight", dpi=120)
    import matplotlib.pyplot as plt
    plt.close(fig)


def line_figure(size=(6, 4)):
    """A figure and axes for a curve plot (matplotlib without a display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=size)


def save_line_figure(fig, ax, path, xlabel: str, ylabel: str, title: str) -> None:
    """Label a line_figure, give it a legend, write it to `path` and close it."""
    import matplotlib.pyplot as plt
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_outputs(rows: List[Dict], cells: List[Cell], out: Path, extra: List[str],
                  failed: Sequence[Cell] = (), k_rows: bool = False,
                  with_aggregates: bool = False) -> None:
    fields = ["task", "method", "k", "seed", "status", "score", "final", "steps", "wall_time_s",
              "data_rows", "data", "experts"]
    failed_rows = [{"task": c.task, "method": c.method, "k": c.k or "", "seed": c.seed,
                    "status": "failed"} for c in failed]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows([{**r, "status": "ok"} for r in rows] + failed_rows)
    shown = [e for e in extra if not e.startswith("--deadline=")]
    header = (f"Normalized scores (x100): per run the mean of its last {LAST_N} evaluations; "
              f"mean ± std over seeds (n = seeds finished); "
              f"extra flags: {' '.join(shown) or 'none'}\n\n")
    text = header + table(rows, cells, failed, k_rows)
    if with_aggregates:
        try:
            import rliable  # noqa: F401 -- optional where only the runs are wanted
        except ImportError:
            text += "\n(rliable is not installed here: no aggregates; rerun with --table_only "\
                    "where it is.)\n"
        else:
            matrices = score_matrices(rows, cells)
            stats = aggregates(matrices)
            text += aggregate_table(stats, matrices)
            if stats:
                plot_aggregates(stats, out / "results.png")
    (out / "results.md").write_text(text)
