"""A grid's scores as the budget grows: each method's score at several update counts, from
the evaluations its runs wrote, and their learning curves.

    python scripts/budget_curves.py --out=grid_3e5 --task=gen-hopper-medium-v0 \
        --methods=iql-true,otr-imitation-K1,clue-imitation-K1 --budgets=30000,100000,200000,300000 \
        --plot=results/budget_3e5/curves.png

Reads <out>/<method>/<task>/seed_*/<seed>.txt (one `step score` row per evaluation, as every
run writes). A run's score at budget B is the mean of its last 3 evaluations up to B (the
project's score at a budget of B updates); a run that has not reached B yet is left out
(n counts the runs in). Prints a markdown table (mean ± std over runs) and, with --plot,
draws each method's mean curve with its min-max band over the runs that reached each
evaluation.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.grid import tables  # noqa: E402
from clue_jax.grid.tables import LAST_N  # noqa: E402
from clue_jax.logging import read_scores  # noqa: E402


def curves(out: Path, method: str, task: str):
    """{seed folder name: (steps, scores)} of a method's runs."""
    result = {}
    for folder in sorted((out / method / task).glob("seed_*")):
        files = sorted(folder.glob("[0-9]*.txt"))
        if files:
            rows = read_scores(files[0])
            if len(rows):
                result[folder.name] = (rows[:, 0], rows[:, 1])
    return result


def score_at(steps: np.ndarray, scores: np.ndarray, budget: int):
    """Mean of the last LAST_N evaluations up to `budget`, or None before it is reached."""
    upto = steps <= budget
    if not upto.any() or steps[upto][-1] != budget:
        return None
    return float(scores[upto][-LAST_N:].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="the grid's folder (reproduce.py --out)")
    parser.add_argument("--task", required=True)
    parser.add_argument("--methods", required=True, help="run-folder names, comma-separated")
    parser.add_argument("--budgets", required=True, help="update counts, comma-separated")
    parser.add_argument("--plot", default=None, help="write the curves here (png)")
    args = parser.parse_args()
    out, methods = Path(args.out), args.methods.split(",")
    budgets = [int(b) for b in args.budgets.split(",")]
    print("| method | " + " | ".join(f"{b:,} updates" for b in budgets) + " |")
    print("|---" * (len(budgets) + 1) + "|")
    runs = {m: curves(out, m, args.task) for m in methods}
    for method in methods:
        cells = []
        for budget in budgets:
            values = [s for s in (score_at(st, sc, budget) for st, sc in runs[method].values())
                      if s is not None]
            cells.append(f"{np.mean(values):.1f} ± {np.std(values):.1f} (n={len(values)})"
                         if values else "–")
        print(f"| {method} | " + " | ".join(cells) + " |")
    if args.plot:
        fig, ax = tables.line_figure((7, 4))
        for i, method in enumerate(methods):
            series = list(runs[method].values())
            if not series:
                continue
            by_step = {}  # each evaluation step -> the scores of the runs that reached it
            for steps, scores in series:
                for step, score in zip(steps, scores):
                    by_step.setdefault(step, []).append(score)
            steps = np.array(sorted(by_step))
            values = [np.asarray(by_step[st]) for st in steps]
            ax.plot(steps, [v.mean() for v in values], color=f"C{i}",
                    label=f"{method} ({len(series)} runs)")
            ax.fill_between(steps, [v.min() for v in values], [v.max() for v in values],
                            color=f"C{i}", alpha=0.2)
        tables.save_line_figure(fig, ax, args.plot, "learner updates",
                                "normalized score (one evaluation)",
                                f"{args.task}: mean over the runs, min-max band")
        print(f"curves -> {args.plot}")


if __name__ == "__main__":
    main()
