"""reproduce.py's table, rliable aggregates and plot from results.csv files, e.g. to join
two measurements of one grid.

    python scripts/table_from_csv.py OLD.csv NEW.csv --tasks=... --methods=table4 \
        --num_experts=1,10 --seeds=0,1,2 --out=results/table4 --k_rows \
        --flags="--max_steps=10000 --eval_interval=2000 --eval_episodes=5"

Every `ok` row of the files whose (task, method, K, seed) is a cell of the grid is kept; where
several files hold a cell, the later file's row wins. Writes results.csv (the rows used),
results.md and results.png into --out, as `reproduce.py --table_only` does for runs on disk;
results.md names any task whose runs learned from different data (their `data` fingerprints,
or their `data_rows` counts, differ; files older than these columns have neither).
`--differences=A:B,...` adds, per row (task and K), mean(A) - mean(B) over the seeds with
its 95% bootstrap interval, Welch's p and the probability of improvement (as
scripts/compare_runs.py gives them), e.g. `--differences=clue-imitation:constant`; a method
that learns without demonstrations (iql, bc, constant) has one run per seed for every K.
"""

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.grid import tables  # noqa: E402
from clue_jax.grid.cells import make_grid  # noqa: E402
from clue_jax.grid.methods import TABLE4_METHODS, uses_experts  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", nargs="+")
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--methods", required=True, help="names, or 'table4'")
    parser.add_argument("--num_experts", default="1")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", required=True)
    parser.add_argument("--k_rows", action="store_true")
    parser.add_argument("--flags", default="", help="the runs' extra flags, for the header")
    parser.add_argument("--differences", default="",
                        help="A:B,... per row mean(A) - mean(B) with its interval")
    args = parser.parse_args()
    methods = (list(TABLE4_METHODS) if args.methods == "table4"
               else args.methods.split(","))
    pairs = [tuple(pair.split(":")) for pair in args.differences.split(",") if pair]
    for pair in pairs:
        if len(pair) != 2 or not set(pair) <= set(methods):
            parser.error(f"--differences: {':'.join(pair)} is not two of --methods joined by "
                         f"':' (the methods: {','.join(methods)}); e.g. "
                         f"--differences={methods[-1]}:{methods[0]}")
    cells = make_grid(args.tasks.split(","), methods,
                      [int(k) for k in args.num_experts.split(",")],
                      [int(s) for s in args.seeds.split(",")])
    wanted = {(c.task, c.method, c.k or "", c.seed) for c in cells}
    rows = {}
    for path in args.csv:
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (row["task"], row["method"], int(row["k"]) if row["k"] else "",
                       int(row["seed"]))
                if row["status"] == "ok" and key in wanted:
                    rows[key] = {"task": key[0], "method": key[1], "k": key[2], "seed": key[3],
                                 "score": float(row["score"]), "final": float(row["final"]),
                                 "steps": int(row["steps"]),
                                 "wall_time_s": float(row["wall_time_s"] or "nan"),
                                 "data_rows": row.get("data_rows", ""),
                                 "data": row.get("data", ""),
                                 "experts": row.get("experts", "")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables.write_outputs(list(rows.values()), cells, out, args.flags.split(),
                         k_rows=args.k_rows, with_aggregates=True)
    if pairs:
        text = differences_table(rows, cells, pairs)
        with open(out / "results.md", "a") as f:
            f.write("\n" + text)
        print(text)
    print(f"{len(rows)} of {len(cells)} cells -> {out}/results.md")


def differences_table(rows, cells, pairs) -> str:
    """Per (task, K) row and (A, B) pair, A's seeds against B's (tables.difference); a row
    with fewer than 2 scores on a side is '–'."""
    ks = sorted({c.k for c in cells if c.k is not None}) or [None]
    tasks = list(dict.fromkeys(c.task for c in cells))
    seeds = sorted({c.seed for c in cells})

    def scores(task, method, k):
        k = k if uses_experts(method) else ""
        return [rows[key]["score"] for key in ((task, method, k, s) for s in seeds)
                if key in rows]

    lines = [tables.difference_caption(per=" per row"), "",
             "| row | A - B | difference [95% interval] | Welch p | P(A > B) |",
             "|---|---|---|---|---|"]
    for k in ks:
        for task in tasks:
            for a, b in pairs:
                first, second = scores(task, a, k), scores(task, b, k)
                row = f"K={k} {task}" if k is not None else task
                if min(len(first), len(second)) < 2:
                    lines.append(f"| {row} | {a} - {b} | – | – | – |")
                    continue
                d = tables.difference(first, second)
                lines.append(f"| {row} | {a} - {b} | {tables.difference_cells(d)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
