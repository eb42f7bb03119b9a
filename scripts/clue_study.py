"""The CLUE sparse-setting study: tables and figures from a `reproduce.py --methods=study` grid.

    python scripts/clue_study.py --grid=./grid_study --out=results/clue_study
    python scripts/clue_study.py --final --grid=./grid_final --out=results/clue_final

Reads every run of the grid (results.json, config.json, evaluation_episodes.jsonl)
and writes to --out:
  study.md   per task and variant: score calibrated / uncalibrated (mean +- std over
             seeds, each run the mean of its last 3 evaluations), the labelled reward
             on goal-reaching rows minus the rest (in raw Eq. 6 units, so variants with
             other post-processing compare), how the chosen experts look, and where the
             failed evaluation episodes of the last 3 evaluations ended;
  fig4.png   paper Fig. 4's comparison per task: each variant calibrated vs not;
  ends.png   end positions of failed evaluation episodes over the maze (the
             'episodes' variant, calibrated vs not; last 3 evaluations of every seed);
  starts.png every run's score against how far its expert episode starts from the
             evaluation start (calibrated vs not);
  experts.png the expert episode of each seed drawn over the maze, per expert rule,
             with its runs' scores (calibrated / not).
With --final (the final grid: --methods on the four medium/large mazes) it writes
final.md (per task and method: scores, each seed's, and the same diagnostics),
final.png (scores per task, seeds as dots) and final_ends.png (failed episodes' ends).
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.envs import layout, pointmaze  # noqa: E402
from clue_jax.experiments import domains  # noqa: E402
from clue_jax.grid.cells import Cell  # noqa: E402
from clue_jax.grid.tables import LAST_N  # noqa: E402

VARIANT_NAMES = {  # study variant -> (calibrated method, uncalibrated method, what it changes)
    "episodes": ("clue-episodes", "clue-episodes-nocalib",
                 "the defaults the study started from: a random successful episode, r - 1, "
                 "calibration summed over latent dims"),
    "rr": ("clue-rr", "clue-rr-nocalib", "rewards x 1000 / (max - min return), no shift"),
    "rr-shift": ("clue-rr-shift", "clue-rr-shift-nocalib",
                 "rewards x 1000 / (max - min return), then - 1"),
    "top": ("clue-top", "clue-top-nocalib", "expert: OTR's rule (best return / distance of "
                                            "its start to the evaluation start)"),
    "goal": ("clue-goal", "clue-goal-nocalib", "expert: random successful segment of the "
                                               "episodes cut where infos/goal changes"),
    "calibmean": ("clue-calibmean", "clue-episodes-nocalib",
                  "calibration averaged over latent dims (like the KL)"),
    "goal-calibmean": ("clue-goal-calibmean", "clue-goal-nocalib",
                       "goal segments and calibration averaged over latent dims"),
    "top-calibmean": ("clue-top-calibmean", "clue-top-nocalib",
                      "OTR's rule and calibration averaged over latent dims"),
}


def runs(grid: Path, task: str, method: str, k: int = 1):
    """Every finished run of (task, method): (results, config, evaluation episodes)."""
    out = []
    for seed_dir in sorted((Cell(task, method, k, 0).run_dir(grid)).parent.glob(
            "seed_*")):
        if not re.fullmatch(r"seed_\d+", seed_dir.name):
            continue  # runs moved aside
        if not (seed_dir / "results.json").exists():
            continue
        results = json.loads((seed_dir / "results.json").read_text())
        config = json.loads((seed_dir / "config.json").read_text())
        experts_path = seed_dir / "experts.json"
        if experts_path.exists():
            config["experts"] = json.loads(experts_path.read_text())
        episodes_path = seed_dir / "evaluation_episodes.jsonl"
        episodes = ([json.loads(line) for line in episodes_path.read_text().splitlines()]
                    if episodes_path.exists() else [])
        out.append((results, config, episodes))
    return out


def score(results) -> float:
    return float(np.mean([s for _, s in results["history"][-LAST_N:]]))


def raw_goal_gap(results, config) -> float:
    """(mean labelled reward on goal rows - on the rest) in raw Eq. 6 units."""
    labels = results["labels"]
    if "goal_rows_reward_mean" not in labels:
        return float("nan")
    shift = config["labeller_config"]["reward_shift"]
    scale = (labels["reward_mean"] - shift) / labels["raw_reward_mean"]
    return (labels["goal_rows_reward_mean"] - labels["other_rows_reward_mean"]) / scale


def failed_ends(episodes, goal, last_n: int = LAST_N) -> np.ndarray:
    """(M, 2) final xy of the failed episodes of the last `last_n` evaluations."""
    ends = []
    for record in episodes[-last_n:]:
        for success, obs in zip(record["successes"], record["final_observations"]):
            if not success:
                ends.append(obs[:2])
    return np.asarray(ends, np.float64).reshape(-1, 2)


_STARTS = {}


def load_xy(task: str, config) -> np.ndarray:
    """The xy of every row of the dataset the run trained on (its --dataset_path if any)."""
    if task not in _STARTS:
        path = config.get("settings", {}).get("dataset_path")
        _STARTS[task] = domains.load_dataset(task, dataset_path=path).observations[:, :2]
    return _STARTS[task]


def expert_start_distances(task: str, config) -> List[float]:
    """Distance of each chosen expert episode's first state (xy) from the evaluation start."""
    xy = load_xy(task, config)
    start = np.asarray(layout.maze_layout(task).start)
    return [float(np.linalg.norm(xy[first] - start))
            for first, _ in config.get("experts", {}).get("segments", [])]


def fmt(values, decimals: int = 1) -> str:
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.{decimals}f} ± {np.std(values):.{decimals}f} (n={len(values)})"


def method_cell(grid: Path, task: str, method: str, k: int = 1) -> dict:
    """One (task, method) of a grid: its scores and the study's diagnostics, formatted."""
    goal = np.asarray(pointmaze.EVAL[task.split("-")[2]].goal, np.float64)
    rs = runs(grid, task, method, k)
    ends = np.concatenate([failed_ends(e, goal) for _, _, e in rs] or [np.zeros((0, 2))])
    dist = np.linalg.norm(ends - goal, axis=1) if len(ends) else np.zeros(0)
    lengths = [int(m) for r, _, _ in rs
               for m in re.findall(r"\d+", r.get("experts", "").split("lengths")[-1])]
    per_run = [expert_start_distances(task, c) for _, c, _ in rs]
    scores = [score(r) for r, _, _ in rs]
    return {"scores": scores, "score": fmt(scores),
            "seed_scores": [(r["seed"], round(score(r), 1)) for r, _, _ in rs],
            "start_scores": [(d[0], sc) for d, sc in zip(per_run, scores) if d],
            "starts": [round(d, 1) for run_dists in per_run for d in run_dists],
            "gap": fmt([raw_goal_gap(r, c) for r, c, _ in rs], 3),
            "lengths": lengths,
            "ends": (f"{np.median(dist):.1f}, {np.mean(dist < 2):.0%} of {len(dist)}")
            if len(dist) else ("none failed" if rs else "–")}


def final_report(grid: Path, out: Path, tasks: List[str], methods: List[str]) -> None:
    """The final grid: final.md (scores per seed and the diagnostics, per task and method),
    final.png (scores per task, seeds as dots) and final_ends.png (where failures end)."""
    lines = ["# CLUE sparse-setting final grid (generated by scripts/clue_study.py --final)", "",
             "Score: per run the mean of its last 3 evaluations (normalized x100); mean ± std "
             "over seeds, then each seed's score. Goal-row gap, expert starts and failed ends "
             "as in study.md.", "",
             "| task | method | score | seeds | goal-row gap | expert length | expert start: "
             "distance to the evaluation start | failed ends: median distance, share within 2 |",
             "|---|---|---|---|---|---|---|---|"]
    scores = {}
    for task in tasks:
        for method in methods:
            cell = method_cell(grid, task, method)
            scores[(task, method)] = cell["scores"]
            seeds = ", ".join(f"{seed}: {sc:g}" for seed, sc in cell["seed_scores"])
            lines.append(f"| {task} | {method} | {cell['score']} | {seeds} | {cell['gap']} | "
                         f"{cell['lengths']} | {cell['starts']} | {cell['ends']} |")
    totals = {m: sum(np.mean(scores[(t, m)]) for t in tasks if scores[(t, m)]) for m in methods}
    lines += ["", "Total of the task means: " + ", ".join(
        f"{m} {totals[m]:.1f}" for m in methods) + "."]
    (out / "final.md").write_text("\n".join(lines) + "\n")
    plot_final(scores, tasks, methods, out / "final.png")
    plot_ends(grid, tasks, out / "final_ends.png", methods=methods)
    print((out / "final.md").read_text())


def plot_final(scores, tasks, methods, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(2.6 * len(tasks) + 1, 4))
    x, width = np.arange(len(tasks)), 0.8 / len(methods)
    colors = ("tab:red", "tab:gray", "tab:blue", "tab:green", "tab:orange")
    for j, (method, color) in enumerate(zip(methods, colors)):
        offset = (j - (len(methods) - 1) / 2) * width
        values = [scores.get((t, method), []) for t in tasks]
        ax.bar(x + offset, [np.mean(v) if v else np.nan for v in values], width,
               yerr=[np.std(v) if v else 0.0 for v in values], capsize=3, color=color,
               label=method)
        for xi, v in zip(x, values):
            ax.scatter(np.full(len(v), xi + offset), v, s=8, color="k", zorder=3)
    ax.set_xticks(x, [t.replace("gen-pointmaze-", "").replace("-v0", "") for t in tasks])
    ax.set_ylim(0, 105)
    ax.set_ylabel("normalized score (last 3 evaluations)")
    ax.set_title("CLUE K=1, sparse setting, final grid (bars: mean ± std over seeds)",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tasks", default=None,
                        help="default: the large mazes (study), all four mazes (--final)")
    parser.add_argument("--variants", default=",".join(VARIANT_NAMES))
    parser.add_argument("--final", action="store_true",
                        help="report the final grid of --methods instead of the screen")
    parser.add_argument("--methods", default="clue,clue-nocalib,clue-episodes")
    args = parser.parse_args()
    grid, out = Path(args.grid), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.final:
        mazes = ("medium-diverse", "medium-play", "large-diverse", "large-play")
        tasks = (args.tasks.split(",") if args.tasks else
                 [f"gen-pointmaze-{m}-v0" for m in mazes])
        return final_report(grid, out, tasks, args.methods.split(","))
    args.tasks = args.tasks or "gen-pointmaze-large-diverse-v0,gen-pointmaze-large-play-v0"
    tasks, variants = args.tasks.split(","), args.variants.split(",")
    lines = ["# CLUE sparse-setting study (generated by scripts/clue_study.py)", "",
             "Score: per run the mean of its last 3 evaluations (normalized x100); mean ± std "
             "over seeds. Goal-row gap: mean Eq. 6 reward on rows with true reward 1 minus "
             "on the rest (raw units, before post-processing; > 0: arriving pays more). "
             "Failed ends: failed evaluation episodes of the last 3 evaluations, their final "
             "distance to the goal (median) and the share ending within 2 of it.", ""]
    scores, all_starts = {}, {}
    for task in tasks:
        starts = all_starts.setdefault(task, [])
        lines += [f"## {task}", "", "| variant | calibrated | uncalibrated | goal-row gap "
                  "(calib / uncalib) | expert length (calib) | expert start: distance to the "
                  "evaluation start | failed ends: median distance, share within 2 "
                  "(calib / uncalib) |", "|---|---|---|---|---|---|---|"]
        for variant in variants:
            calib_m, plain_m, _ = VARIANT_NAMES[variant]
            cells = []
            for method in (calib_m, plain_m):
                cell = method_cell(grid, task, method)
                scores[(task, variant, method == calib_m)] = cell["scores"]
                starts.extend((variant, method == calib_m, d, sc)
                              for d, sc in cell["start_scores"])
                cells.append(cell)
            lines.append(f"| {variant} | {cells[0]['score']} | {cells[1]['score']} | "
                         f"{cells[0]['gap']} / {cells[1]['gap']} | {cells[0]['lengths']} | "
                         f"{cells[0]['starts']} | {cells[0]['ends']} / {cells[1]['ends']} |")
        lines.append("")
    lines += ["Variants:", ""] + [f"- {v}: {VARIANT_NAMES[v][2]}" for v in variants]
    (out / "study.md").write_text("\n".join(lines) + "\n")
    plot_fig4(scores, tasks, variants, out / "fig4.png")
    plot_ends(grid, tasks, out / "ends.png")
    plot_starts(all_starts, tasks, out / "starts.png")
    plot_experts(grid, tasks, out / "experts.png")
    print((out / "study.md").read_text())


def plot_fig4(scores, tasks, variants, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    x = np.arange(len(variants))
    for ax, task in zip(axes[0], tasks):
        for j, (calibrated, label, color) in enumerate(((True, "calibrated", "tab:red"),
                                                        (False, "no calibration", "tab:gray"))):
            values = [scores.get((task, v, calibrated), []) for v in variants]
            means = [np.mean(v) if v else np.nan for v in values]
            stds = [np.std(v) if v else 0.0 for v in values]
            ax.bar(x + (j - 0.5) * 0.38, means, 0.38, yerr=stds, capsize=3, color=color,
                   label=label)
            for xi, v in zip(x, values):
                ax.scatter(np.full(len(v), xi + (j - 0.5) * 0.38), v, s=8, color="k", zorder=3)
        ax.set_xticks(x, variants, rotation=20)
        ax.set_ylim(0, 105)
        ax.set_title(f"CLUE K=1, sparse setting: {task}", fontsize=9)
        ax.set_ylabel("normalized score (last 3 evaluations)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ends(grid: Path, tasks, path: Path,
              methods=("clue-episodes", "clue-episodes-nocalib")) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        maze = layout.maze_layout(task)
        layout.draw_maze(ax, maze, goal_radius=pointmaze.GOAL_RADIUS)
        goal = np.asarray(maze.goal)
        for method, color, marker in zip(methods, ("tab:red", "tab:blue", "tab:green"),
                                         ("x", "+", "1")):
            ends = [failed_ends(e, goal) for _, _, e in runs(grid, task, method)]
            ends = np.concatenate(ends) if ends else np.zeros((0, 2))
            ax.scatter(ends[:, 0], ends[:, 1], s=18, marker=marker, color=color, alpha=0.6,
                       label=f"{method} ({len(ends)} failed)")
        ax.set_title(f"Where failed evaluation episodes end: {task}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_experts(grid: Path, tasks, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rules = [(v, VARIANT_NAMES[v][:2]) for v in ("episodes", "top", "goal")]
    fig, axes = plt.subplots(len(tasks), len(rules), figsize=(5 * len(rules), 4.3 * len(tasks)),
                             squeeze=False)
    for row, task in zip(axes, tasks):
        for ax, (variant, (calib_m, plain_m)) in zip(row, rules):
            layout.draw_maze(ax, layout.maze_layout(task), goal_radius=pointmaze.GOAL_RADIUS)
            plain = {r["seed"]: score(r) for r, _, _ in runs(grid, task, plain_m)}
            for i, (results, config, _) in enumerate(runs(grid, task, calib_m)):
                seed, color, xy = results["seed"], plt.cm.tab10(i), load_xy(task, config)
                for first, end in config.get("experts", {}).get("segments", []):
                    ax.plot(xy[first:end, 0], xy[first:end, 1], color=color, lw=1.2,
                            label=f"seed {seed}: {score(results):.0f} / "
                                  f"{plain.get(seed, float('nan')):.0f}")
                    ax.plot(*xy[first], marker="o", color=color, markersize=5)
            ax.set_title(f"{task}\nexperts, rule '{variant}' (score calibrated / not)",
                         fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_starts(all_starts, tasks, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for calibrated, color, label in ((True, "tab:red", "calibrated"),
                                         (False, "tab:gray", "no calibration")):
            points = np.asarray([(d, sc) for _, c, d, sc in all_starts.get(task, [])
                                 if c == calibrated]).reshape(-1, 2)
            jitter = np.random.default_rng(0).uniform(-0.1, 0.1, len(points))
            ax.scatter(points[:, 0] + jitter + (0.15 if calibrated else -0.15), points[:, 1],
                       s=20, color=color, alpha=0.7, label=f"{label} ({len(points)} runs)")
        ax.set_xlabel("expert episode's start: distance to the evaluation start")
        ax.set_ylabel("score (last 3 evaluations)")
        ax.set_ylim(-5, 105)
        ax.set_title(f"CLUE K=1, every study variant: {task}", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
