"""Record what finished runs cost, for reproduce.py --plan's time estimates.

    python scripts/run_costs.py results ./grid_t4          # into results/bench/run_costs.json
    python scripts/run_costs.py ./grid_t4 --out=costs.json --show

Reads every finished run folder under the given folders (clue_jax.grid.estimate.run_cost:
seconds per update of its training program, labelling seconds, seconds per evaluation env
step, its device) and writes them to --out, replacing the records that came from the same
folders and keeping the others. A record's source is its run folder relative to the given
folder's parent (e.g. grid_t4/iql-true/<task>/seed_0). --show prints one line per learner,
device and task: the median microseconds per update per run of its programs.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.grid import estimate  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders or grids")
    parser.add_argument("--out", type=Path, default=estimate.COSTS_FILE)
    parser.add_argument("--show", action="store_true", help="print the costs per learner")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"run_costs.py: {', '.join(missing)}: expected folders of finished "
                         "runs (a grid's --out or a run folder); nothing was written.")
    fresh, roots = [], []
    for folder in args.folders:
        base = folder.resolve().parent
        roots.append(folder.resolve().name)
        for cost in estimate.collect([folder]):
            source = Path(cost.source).resolve().relative_to(base).as_posix()
            fresh.append(estimate.Cost(**{**cost.__dict__, "source": source}))
    if not fresh:
        raise SystemExit(f"run_costs.py: no finished run with timing figures under "
                         f"{', '.join(map(str, args.folders))}; nothing was written.")
    kept = [c for c in estimate.read_costs(args.out)
            if not any(c.source == root or c.source.startswith(root + "/") for root in roots)]
    costs = sorted(kept + fresh, key=lambda c: (c.device, c.learner, c.task, c.source))
    estimate.write_costs(costs, args.out)
    print(f"run_costs.py: {len(fresh)} runs read, {len(kept)} records kept, "
          f"{len(costs)} in {args.out}")
    if args.show:
        for line in summary(costs):
            print(line)


def summary(costs):
    """One line per (device, learner, task): runs, median us per update per run, labelling."""
    groups = {}
    for c in costs:
        groups.setdefault((c.device, c.learner, c.task), []).append(c)
    for (device, learner, task), group in sorted(groups.items()):
        per_run = statistics.median([c.update_s / c.train_runs for c in group])
        labels = [c.label_s_per_model for c in group if c.label_s is not None]
        label = f", labelling {statistics.median(labels):.1f} s per model" if labels else ""
        yield (f"{device} | {learner:16s} | {task:32s} | {len(group):3d} runs | "
               f"{1e6 * per_run:.0f} us per update per run{label}")


if __name__ == "__main__":
    main()
