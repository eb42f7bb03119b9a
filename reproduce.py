"""Run a grid of tasks x methods x K x seeds and write the paper-style table.

    python reproduce.py --tasks=gen-pointmaze-umaze-diverse-v0,gen-pointmaze-large-diverse-v0 \
        --methods=iql,clue,clue-nocalib --num_experts=1,5 --seeds=0,1,2 \
        --out=./grid --workers=2 -- --max_steps=50000

    # Table 4 of the paper (offline imitation; 9 datasets x K = 1, 10 x 8 methods)
    python reproduce.py --methods=table4 --num_experts=1,10 --seeds=0,1,2,3,4,5,6,7,8,9 \
        --tasks=gen-hopper-medium-v0,gen-hopper-medium-replay-v0,gen-hopper-medium-expert-v0,\
gen-halfcheetah-medium-v0,gen-halfcheetah-medium-replay-v0,gen-halfcheetah-medium-expert-v0,\
gen-walker2d-medium-v0,gen-walker2d-medium-replay-v0,gen-walker2d-medium-expert-v0 \
        --out=./table4 --workers=2 --pin

Each cell is one process of `train_iql.py --labeller=...` (flags after `--` go
to every run, except a labeller's own flags, which go only to its cells), so a
grid is the same as a shell loop. Cells with a results.json are skipped; cells
with a checkpoint, CVAE or reward file are continued with --resume. Writes
<out>/results.csv (one row per run) and <out>/results.md (per run the mean of
its last 3 evaluations; mean +- std over seeds, one column per method and K, a
total row; then per column the interquartile mean and mean over every task and seed
with 95% stratified-bootstrap intervals, rliable) with results.png, their interval plot.
"""

import argparse
import os
import queue
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from clue_jax import interrupts
from clue_jax.experiments import plugins

try:  # learners and labellers of the user's own ($CLUE_JAX_PLUGINS) get methods too
    from clue_jax.grid import build, execute, presets, tables
    from clue_jax.grid.cells import GROUPINGS, make_units, unit_cells
    from clue_jax.grid.methods import LABELLER_FLAGS, METHODS
except plugins.PluginError as _err:
    raise SystemExit(f"reproduce.py: {_err}")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Flags after `--` go to every run's train_iql.py command line (e.g. -- "
               "--max_steps=30000 --eval_episodes=5), except a labeller's own flags "
               f"({', '.join(f for fl in LABELLER_FLAGS.values() for f in fl)}), which go only "
               "to its cells. Methods: " + ", ".join(sorted(METHODS)) + ".")
    parser.add_argument("--preset", default=None, choices=sorted(presets.PRESETS),
                        help="one of the paper's tables: its tasks, methods and K (each "
                             "overridable by --tasks / --methods / --num_experts), at --budget")
    parser.add_argument("--budget", default="cpu", choices=("paper", "cpu"),
                        help="with --preset: 'paper' (1M updates, 10 seeds, 10 episodes, the "
                             "paper's per-task exceptions) or 'cpu' (the reduced budget this "
                             "project measures at); default cpu")
    parser.add_argument("--plan", action="store_true",
                        help="print the plan (runs, programs, a time estimate per learner from "
                             "finished runs' costs on this device, results/bench/run_costs.json "
                             "and the grid's own, else bench_e2e's IQL rate) and exit without "
                             "running anything")
    parser.add_argument("--tasks", default=None, help="comma-separated dataset names")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods, or 'table4' for every method of the "
                             "paper's Table 4 (then rows are K x task, as in the paper), or "
                             "'study' for the CLUE sparse-setting study (each variant of "
                             "STUDY_VARIANTS, calibrated and not), or 'temperatures' for CLUE "
                             "at c = 1..10 (clue-c1 ... clue-c10, Tables 6-7); default "
                             "iql,clue,clue-nocalib")
    parser.add_argument("--k_rows", action="store_true",
                        help="rows K x task, one column per method (Table 4's layout)")
    parser.add_argument("--num_experts", default=None,
                        help="comma-separated K values (default 1)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--out", default="./grid")
    parser.add_argument("--workers", type=int, default=1, help="runs at the same time")
    parser.add_argument("--pin", action="store_true",
                        help="pin each worker's run to its own CPU core (taskset); on a "
                             "2-core machine two pinned runs beat two that share both cores")
    parser.add_argument("--in_process", action="store_true",
                        help="run the cells one after another in this process (no subprocess, "
                             "no pinning; for notebooks, debugging and tests)")
    parser.add_argument("--table_only", action="store_true", help="only rewrite the table")
    parser.add_argument("--group", default="none", choices=GROUPINGS,
                        help="none: one process per run; seeds: the unfinished seeds of each "
                             "(task, method, K) as one vmapped program; method: each (task, "
                             "method)'s K x seeds as one program; dataset: each task's runs as "
                             "one program (agents stacked where their settings allow, "
                             "evaluations stepped together)")
    parser.add_argument("--group_seeds", action="store_true", help="the same as --group=seeds")
    parser.add_argument("--time_limit", type=float, default=None,
                        help="seconds: every run stops cleanly at its last checkpoint before "
                             "then, and no unit starts after it; rerun the same command to "
                             "resume (exit status 3 while runs are unfinished)")
    parser.add_argument("--backend", choices=("pool", "ray"), default="pool",
                        help="pool: a local process pool (default); ray: each unit a Ray task "
                             "(a local Ray with --workers CPUs, or the cluster at --ray_address)")
    parser.add_argument("--ray_address", default=None,
                        help="with --backend=ray: a running cluster (e.g. 'auto' or "
                             "'ray://head:10001'); default: start a local Ray")
    parser.add_argument("--cpus_per_cell", type=float, default=1.0,
                        help="with --backend=ray: CPUs each unit's task asks for")
    parser.add_argument("--gpus_per_cell", type=float, default=0.0,
                        help="with --backend=ray: GPUs each unit's task asks for (e.g. 0.25 "
                             "packs 4 units on one GPU)")
    if "--" in argv:
        i = argv.index("--")
        args, extra = parser.parse_args(argv[:i]), argv[i + 1:]
    else:
        args, extra = parser.parse_args(argv), []
    if args.group_seeds:
        args.group = "seeds"
    if not args.tasks and not args.preset:
        parser.error("--tasks is required (or --preset=<table>)")
    for name in ("tasks", "methods", "num_experts", "seeds"):
        value = getattr(args, name)
        if value is not None and not [v for v in value.split(",") if v.strip()]:
            parser.error(f"--{name}= is empty: give comma-separated values, or drop the flag "
                         "for its default")
    if args.workers < 1:
        parser.error(f"--workers={args.workers}: expected at least 1 run at a time")
    if args.time_limit is not None and args.time_limit <= 0:
        parser.error(f"--time_limit={args.time_limit}: expected seconds > 0")
    return args, extra


def main(argv=None):
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    grid = build.build_grid(args, extra)
    out = Path(args.out).resolve()
    if args.plan:
        print(build.plan_text(grid, out, args))
        return
    if not args.table_only:
        build.validate(grid.cells, out, grid.extra)
    interrupts.install(signal.SIGTERM)  # SIGTERM stops the grid as Ctrl-C does
    try:
        _main(args, grid, out)
    except KeyboardInterrupt:
        execute.end_children()
        sys.exit(f"[reproduce] interrupted: the runs that were training stopped at their last "
                 f"checkpoint; rerun the same command to resume them (finished runs are "
                 f"skipped). Logs in {out / 'logs'}.")


def _main(args, grid: build.Grid, out: Path) -> None:
    cells, extra, k_rows = grid.cells, grid.extra, grid.k_rows
    out.mkdir(parents=True, exist_ok=True)
    failed, stopped = [], []
    deadline = None
    if args.time_limit is not None:
        deadline = time.time() + args.time_limit
        extra = extra + [f"--deadline={deadline:.0f}"]
    units = make_units(cells, out, args.group, extra)

    def report(i, unit, status):
        print(f"[reproduce] {i}/{len(units)} {status}", flush=True)
        if status.startswith("FAILED"):
            failed.extend(unit_cells(unit))
        elif status.startswith("STOPPED"):
            stopped.extend(unit_cells(unit))
        tables.write_outputs(tables.collect(cells, out), cells, out, extra, failed, k_rows)

    if args.table_only:
        pass
    elif args.in_process:
        if args.group != "none":
            raise SystemExit("--in_process runs cells one by one: drop --group.")
        for i, cell in enumerate(cells, 1):
            report(i, cell, execute.run_cell_in_process(cell, out, extra))
    elif args.backend == "ray":
        execute.run_on_ray(units, out, extra, args.ray_address, args.workers, args.cpus_per_cell,
                           args.gpus_per_cell, report, deadline)
    else:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            cores = None
            if args.pin:
                cores = queue.Queue()
                for core in sorted(os.sched_getaffinity(0))[:args.workers]:
                    cores.put(core)
            futures = {pool.submit(execute.run_cell, u, out, extra, cores, deadline): u
                       for u in units}
            try:
                pending, i = set(futures), 0
                while pending:
                    done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                    interrupts.check()  # a Ctrl-C or SIGTERM that Python dropped
                    for future in done:
                        i += 1
                        report(i, futures[future], future.result())
            except KeyboardInterrupt:  # before the pool waits for its workers' children
                for future in futures:
                    future.cancel()
                execute.end_children()
                raise
    rows = tables.collect(cells, out)
    tables.write_outputs(rows, cells, out, extra, failed, k_rows, with_aggregates=True)
    print((out / "results.md").read_text())
    if failed:
        sys.exit(f"[reproduce] {len(failed)} of {len(cells)} cells FAILED (listed in "
                 f"{out / 'results.md'}; logs in {out / 'logs'}).")
    if stopped:
        print(f"[reproduce] {len(stopped)} of {len(cells)} cells stopped at the time limit; "
              "rerun the same command to resume them.", file=sys.stderr)
        sys.exit(execute.STOPPED_EXIT)


if __name__ == "__main__":
    main()
