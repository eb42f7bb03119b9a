"""Kendall's tau between a measured Table 4 and the paper's, row by row.

    python scripts/table4_ranking.py results/table4/results.csv
    python scripts/table4_ranking.py results/table4/results.csv --use oril=oril-dataset

Reads reproduce.py's results.csv (one row per run), averages each method's scores over
seeds per (dataset, K) and ranks the seven methods of the paper's Table 4 (SQIL, IQ-Learn,
ORIL, ValueDICE, DemoDICE, SMODICE, CLUE) against the paper's means for that row
(CLUE's Table 4, as printed; ../shared/reference/baselines.md): tau-b and its two-sided
p-value (scipy), the measured order and the paper's. `--use method=variant` ranks a
variant in a method's place (e.g. ORIL set up on the dataset alone).
"""

import argparse
import csv
from collections import defaultdict

import numpy as np
from scipy import stats

# The paper's Table 4 (normalized D4RL scores, means), the rows the generated data have.
PAPER = {  # (dataset stem, K) -> method -> mean
    ("hopper-medium", 1): {"sqil": 66.9, "iqlearn": 29.6, "oril": 96.3, "valuedice": 44.0,
                           "demodice": 56.4, "smodice": 54.8, "clue-imitation": 78.3},
    ("halfcheetah-medium", 1): {"sqil": 24.3, "iqlearn": 21.7, "oril": 56.8, "valuedice": 36.4,
                                "demodice": 42.0, "smodice": 42.4, "clue-imitation": 45.6},
    ("walker2d-medium", 1): {"sqil": 51.9, "iqlearn": 5.7, "oril": 20.4, "valuedice": 13.9,
                             "demodice": 74.5, "smodice": 67.8, "clue-imitation": 80.7},
    ("hopper-medium", 10): {"sqil": 65.8, "iqlearn": 31.6, "oril": 101.5, "valuedice": 37.6,
                            "demodice": 57.4, "smodice": 55.9, "clue-imitation": 79.9},
    ("halfcheetah-medium", 10): {"sqil": 48.0, "iqlearn": 29.2, "oril": 56.7, "valuedice": 40.0,
                                 "demodice": 41.9, "smodice": 41.6, "clue-imitation": 45.7},
    ("walker2d-medium", 10): {"sqil": 72.4, "iqlearn": 46.4, "oril": 82.3, "valuedice": 54.3,
                              "demodice": 71.3, "smodice": 67.9, "clue-imitation": 81.7},
}
METHODS = ("sqil", "iqlearn", "oril", "valuedice", "demodice", "smodice", "clue-imitation")


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
    for (task, k), paper in PAPER.items():
        means = {m: np.mean(scores[(task, k, use.get(m, m))])
                 for m in METHODS if scores.get((task, k, use.get(m, m)))}
        if len(means) < len(METHODS):
            continue
        names = list(METHODS)
        tau, p = stats.kendalltau([means[m] for m in names], [paper[m] for m in names])
        taus.append(tau)
        order = lambda values: " > ".join(  # noqa: E731
            sorted(names, key=lambda m: -values[m])).replace("clue-imitation", "clue")
        print(f"| K={k} {task} | {tau:+.2f} | {p:.2f} | {order(means)} | {order(paper)} |")
    if taus:
        print(f"\nmean tau over {len(taus)} rows: {np.mean(taus):+.2f}"
              + (f" (with {args.use} in place)" if args.use else ""))


if __name__ == "__main__":
    main()
