"""Kendall's tau between a measured Table 4 and the paper's, row by row.

    python scripts/table4_ranking.py results/table4/results.csv
    python scripts/table4_ranking.py results/table4/results.csv --use oril=oril-dataset

Reads reproduce.py's results.csv (one row per run), averages each method's scores over
seeds per (dataset, K) and ranks the seven methods of the paper's Table 4 (SQIL, IQ-Learn,
ORIL, ValueDICE, DemoDICE, SMODICE, CLUE) against the paper's means for that row (any of
its 18 rows the csv has), then per K the methods' totals over those rows against the
paper's totals over the same rows
(CLUE's Table 4, as printed; ../shared/reference/baselines.md): tau-b and its two-sided
p-value (scipy), the measured order and the paper's. `--use method=variant` ranks a
variant in a method's place (e.g. ORIL set up on the dataset alone).
"""

import argparse
import csv
from collections import defaultdict

import numpy as np
from scipy import stats

# The paper's Table 4 (normalized D4RL scores, means): (dataset stem, K) -> method -> mean.
_ORDER = ("sqil", "iqlearn", "oril", "valuedice", "demodice", "smodice", "clue-imitation")
_ROWS = {  # as printed, in the paper's column order
    ("halfcheetah-medium", 1): (24.3, 21.7, 56.8, 36.4, 42.0, 42.4, 45.6),
    ("halfcheetah-medium-replay", 1): (43.9, 7.7, 46.2, 29.4, 38.3, 38.3, 43.5),
    ("halfcheetah-medium-expert", 1): (6.7, 2.0, 48.7, 1.0, 66.2, 80.9, 90.0),
    ("hopper-medium", 1): (66.9, 29.6, 96.3, 44.0, 56.4, 54.8, 78.3),
    ("hopper-medium-replay", 1): (98.6, 23.0, 56.7, 52.5, 70.7, 30.4, 94.3),
    ("hopper-medium-expert", 1): (13.6, 9.1, 25.1, 27.3, 103.7, 82.4, 96.5),
    ("walker2d-medium", 1): (51.9, 5.7, 20.4, 13.9, 74.5, 67.8, 80.7),
    ("walker2d-medium-replay", 1): (42.3, 17.0, 71.8, 52.7, 57.2, 49.7, 76.3),
    ("walker2d-medium-expert", 1): (18.8, 7.7, 11.6, 37.3, 87.3, 94.8, 109.3),
    ("halfcheetah-medium", 10): (48.0, 29.2, 56.7, 40.0, 41.9, 41.6, 45.7),
    ("halfcheetah-medium-replay", 10): (45.1, 29.6, 46.2, 39.6, 38.5, 39.3, 43.2),
    ("halfcheetah-medium-expert", 10): (11.4, 2.9, 46.6, 25.2, 67.1, 89.4, 91.0),
    ("hopper-medium", 10): (65.8, 31.6, 101.5, 37.6, 57.4, 55.9, 79.9),
    ("hopper-medium-replay", 10): (96.6, 38.0, 29.0, 83.6, 56.9, 32.6, 93.7),
    ("hopper-medium-expert", 10): (19.6, 19.3, 18.9, 28.4, 96.9, 89.3, 102.3),
    ("walker2d-medium", 10): (72.4, 46.4, 82.3, 54.3, 71.3, 67.9, 81.7),
    ("walker2d-medium-replay", 10): (82.4, 16.6, 70.0, 54.6, 58.1, 52.4, 75.3),
    ("walker2d-medium-expert", 10): (12.5, 24.5, 6.5, 40.1, 103.5, 107.5, 110.7),
}
PAPER = {row: dict(zip(_ORDER, means)) for row, means in _ROWS.items()}
METHODS = _ORDER


def stem(task: str) -> str:
    """'gen-hopper-medium-v0' / 'hopper-medium-v2' -> 'hopper-medium'."""
    parts = task.split("-")
    parts = parts[1:] if parts[0] == "gen" else parts
    return "-".join(parts[:-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", nargs="+")
    parser.add_argument("--use", default="", help="method=variant,... ranked in its place")
    args = parser.parse_args()
    use = dict(pair.split("=") for pair in args.use.split(",") if pair)
    scores = defaultdict(list)  # (stem, K, method) -> scores
    for path in args.csv:
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["status"] == "ok" and row["k"]:
                    scores[(stem(row["task"]), int(row["k"]), row["method"])].append(
                        float(row["score"]))
    print("| row | tau | p | measured order (best first) | paper order |")
    print("|---|---|---|---|---|")
    taus = []
    ranked = defaultdict(list)  # K -> (measured means, paper's means) of each ranked row
    for (task, k), paper in PAPER.items():
        means = {m: np.mean(scores[(task, k, use.get(m, m))])
                 for m in METHODS if scores.get((task, k, use.get(m, m)))}
        if len(means) < len(METHODS):
            continue
        tau, p = stats.kendalltau([means[m] for m in METHODS], [paper[m] for m in METHODS])
        taus.append(tau)
        print(f"| K={k} {task} | {tau:+.2f} | {p:.2f} | {order(means)} | {order(paper)} |")
        ranked[k].append((means, paper))
    if not taus:
        return
    print(f"\nmean tau over {len(taus)} rows: {np.mean(taus):+.2f}"
          + (f" (with {args.use} in place)" if args.use else ""))
    print("\nTotals over the rows above (each method's means summed over the same datasets):\n")
    print("| totals | rows | tau | p | measured order (totals) | paper order (totals) |")
    print("|---|---|---|---|---|---|")
    for k, rows in sorted(ranked.items()):
        measured, printed = ({m: sum(row[side][m] for row in rows) for m in METHODS}
                             for side in (0, 1))
        tau, p = stats.kendalltau([measured[m] for m in METHODS], [printed[m] for m in METHODS])
        print(f"| K={k} | {len(rows)} | {tau:+.2f} | {p:.2f} | {order(measured, True)} "
              f"| {order(printed, True)} |")


def order(values, with_values: bool = False) -> str:
    """The methods best first ('clue' for clue-imitation), with their values if asked."""
    names = sorted(METHODS, key=lambda m: -values[m])
    return " > ".join(m.replace("clue-imitation", "clue")
                      + (f" {values[m]:.1f}" if with_values else "") for m in names)


if __name__ == "__main__":
    main()
