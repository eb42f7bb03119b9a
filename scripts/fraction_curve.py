"""Fig. 5/6's curve: each method's score as the fraction of the dataset grows, from the
results.csv files of grids run with --dataset_fraction (one file per fraction).

    python scripts/fraction_curve.py --task=gen-hopper-medium-v0 \
        --methods=iql,otr-imitation:1,clue-imitation:1 \
        --point=0.1=grid_exp/fraction_0.1/results.csv --point=0.25=grid_exp/fraction_0.25/results.csv \
        --point=1.0=results/table4/results.csv --point=1.0=grid_exp/fraction_1.0_otr/results.csv \
        --plot=results/ablations/fraction.png

A method is `name` or `name:K` (reproduce.py's method name and number of demonstrations).
Every `ok` row of a fraction's files counts (several files may hold one fraction). Prints a
markdown table (mean ± std over seeds, n = runs) and, with --plot, draws each method's mean
with its std as error bars against the fraction (log scale).
"""

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.grid import tables  # noqa: E402


def read_points(points, task: str):
    """{(method, k): {fraction: [scores]}} from FRACTION=CSV pairs."""
    scores = defaultdict(lambda: defaultdict(list))
    for point in points:
        fraction, path = point.split("=", 1)
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["task"] == task and row["status"] == "ok":
                    scores[(row["method"], row["k"])][float(fraction)].append(float(row["score"]))
    return scores


def label(method) -> str:
    """('clue-imitation', '1') -> 'clue-imitation (K=1)'; ('iql', '') -> 'iql'."""
    return method[0] + (f" (K={method[1]})" if method[1] else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--methods", required=True, help="name or name:K, comma-separated")
    parser.add_argument("--point", action="append", required=True,
                        help="FRACTION=results.csv (repeat; a fraction may have several files)")
    parser.add_argument("--plot", default=None, help="write the curve here (png)")
    args = parser.parse_args()
    methods = [tuple((m.split(":") + [""])[:2]) for m in args.methods.split(",")]
    scores = read_points(args.point, args.task)
    fractions = sorted({f for m in methods for f in scores[m]})
    print("| method | " + " | ".join(f"{f:g} of the data" for f in fractions) + " |")
    print("|---" * (len(fractions) + 1) + "|")
    for method in methods:
        cells = [f"{np.mean(v):.1f} ± {np.std(v):.1f} (n={len(v)})"
                 if (v := scores[method].get(f)) else "–" for f in fractions]
        print(f"| {label(method)} | " + " | ".join(cells) + " |")
    if args.plot:
        fig, ax = tables.line_figure((6, 4))
        for i, method in enumerate(methods):
            xs = [f for f in fractions if scores[method].get(f)]
            ys = [np.mean(scores[method][f]) for f in xs]
            es = [np.std(scores[method][f]) for f in xs]
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, color=f"C{i}",
                        label=label(method))
        ax.set_xscale("log")
        ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
        tables.save_line_figure(fig, ax, args.plot, "fraction of the dataset's trajectories",
                                "normalized score (mean ± std over seeds)", args.task)
        print(f"curve -> {args.plot}")


if __name__ == "__main__":
    main()
