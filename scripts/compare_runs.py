"""Compare methods over seeds from their run folders: scores, mean +- std, and every pair's
difference with a 95% bootstrap interval, Welch's p and the probability of improvement.

    python scripts/compare_runs.py CLUE=grid_a/clue-sparse-K1 CLUE=grid_b/clue-sparse-K1 \
        "constant -0.5=grid_c/constant-sparse-K1" IQL=grid_d/iql-true --at_step=160000

Each argument is NAME=FOLDER; every run folder below FOLDER is one run (one seed), and a
NAME given again adds its folder's runs to the same method (e.g. seeds 0-2 and 3-5 measured
apart). A run's score is the mean of its last 3 evaluations, as in reproduce.py's tables;
`--at_step` reads it at that update instead (the last 3 evaluations at or before it), so runs
planned for longer can join shorter ones (their learning-rate schedule still differs: the
output names each method's planned updates), and so can runs that stopped before their end
(a time limit, a Ctrl-C): an unfinished run is scored from its last checkpoint's history
(or its `<seed>.txt`, rounded to 0.1, where no checkpoint was kept), and only with
--at_step. Runs moved aside by a fresh start (`<run>.prev-<time>`) are left out. The
methods must be runs of one task, each seed at most once per method. Prints markdown; pairs
are first-named minus later-named. Runs that learned from different data (their config.json
data fingerprints, or transition counts, differ: e.g. a generated dataset made on two
platforms) are named under the tables (MIXED DATA).
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import checkpoints, training  # noqa: E402
from clue_jax.grid import tables  # noqa: E402
from clue_jax.logging import read_scores  # noqa: E402


def unfinished_result(run_dir: Path) -> Optional[Dict]:
    """What results.json would hold for a run that has not finished (stopped by a time limit,
    a Ctrl-C, a crash): seed, task, planned updates and the evaluation history, from its
    config.json and its last checkpoint, or from its `<seed>.txt` (scores rounded to 0.1)
    where the checkpoint was not kept (as in results/); None before its first evaluation."""
    try:
        settings = json.loads((run_dir / "config.json").read_text())["settings"]
        path = checkpoints.find(run_dir)
        if path is not None:
            history = np.asarray(checkpoints.load_raw(path)["history"])
        elif (run_dir / f"{settings['seed']}.txt").exists():
            history = read_scores(run_dir / f"{settings['seed']}.txt")
        else:
            return None
    except (KeyError, ValueError) as err:
        sys.exit(f"compare_runs.py: {run_dir}: not an offline run's folder that can be scored "
                 f"({type(err).__name__}: {err}); point at the folders of train_*.py runs")
    return {"seed": settings["seed"], "env_name": settings["env_name"],
            "steps": settings["max_steps"],
            "history": [(int(step), float(score)) for step, score in history.reshape(-1, 2)]}


def load_runs(spec: str, at_step) -> tuple:
    """'NAME=FOLDER' -> (NAME, [(seed, score, planned updates, env, path)]); exits on bad input."""
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        sys.exit(f"compare_runs.py: {spec!r}: expected NAME=FOLDER (e.g. CLUE=grid/clue-sparse-K1)")
    if not Path(folder).is_dir():
        sys.exit(f"compare_runs.py: {spec!r}: {folder} is not a folder; give a run folder or a "
                 f"folder above run folders")
    run_dirs = sorted({p.parent for pattern in ("results.json", "config.json")
                       for p in Path(folder).rglob(pattern)
                       if training.MOVED_ASIDE not in p.parent.name})
    runs = []
    for run_dir in run_dirs:
        path = run_dir / "results.json"
        if path.exists():
            result = json.loads(path.read_text())
        else:
            path, result = run_dir, unfinished_result(run_dir)
            if result is None:
                continue  # started, never evaluated: nothing to score
        last = max((step for step, _ in result["history"]), default=0)
        if path == run_dir and at_step is None:
            sys.exit(f"compare_runs.py: {run_dir}: unfinished (evaluated up to update {last} of "
                     f"{result['steps']}); finish it (its command with --resume) or score every "
                     f"run at an update all reached (--at_step=<updates>)")
        if at_step is not None and last < at_step:
            sys.exit(f"compare_runs.py: {path}: evaluated up to update {last}, before "
                     f"--at_step={at_step}; give an --at_step it reached")
        score = tables.run_score(result, at_step)
        if score is None or not math.isfinite(score):
            sys.exit(f"compare_runs.py: {path}: no finite score (history {result['history']})")
        runs.append((result["seed"], score, result["steps"], result["env_name"], path))
    if not runs:
        sys.exit(f"compare_runs.py: {spec!r}: no evaluated run below {folder} (a run folder "
                 f"holds results.json when it finished, a checkpoint after its first evaluation)")
    return name, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("methods", nargs="+", metavar="NAME=FOLDER")
    parser.add_argument("--at_step", type=int, default=None,
                        help="score each run by its last 3 evaluations at or before this update")
    parser.add_argument("--resamples", type=int, default=20000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's random seed")
    args = parser.parse_args()
    by_name: Dict[str, List] = {}
    for spec in args.methods:
        name, runs = load_runs(spec, args.at_step)
        by_name.setdefault(name, []).extend(runs)
    if len(by_name) < 2:
        sys.exit(f"compare_runs.py: one method ({', '.join(by_name)}); name at least two")
    envs = sorted({run[3] for runs in by_name.values() for run in runs})
    if len(envs) > 1:
        sys.exit(f"compare_runs.py: the runs span tasks {', '.join(envs)}; compare runs of one "
                 f"task")
    for name, runs in by_name.items():
        seen = {}
        for seed, _, _, _, path in runs:
            if seed in seen:
                sys.exit(f"compare_runs.py: {name}: seed {seed} twice ({seen[seed]} and {path}); "
                         f"give each seed once")
            seen[seed] = path
        runs.sort()

    at = f", scored at update {args.at_step}" if args.at_step else ""
    print(f"{envs[0]}: score = mean of the last 3 evaluations{at}; mean ± std over seeds\n")
    print("| method | seeds | scores | mean ± std | planned updates |")
    print("|---|---|---|---|---|")
    scores = {}
    for name, runs in by_name.items():
        scores[name] = [score for _, score, _, _, _ in runs]
        planned = sorted({steps for _, _, steps, _, _ in runs})
        unfinished = [str(seed) for seed, _, _, _, path in runs if path.name != "results.json"]
        mean, std = np.mean(scores[name]), np.std(scores[name])
        print(f"| {name} | {','.join(str(seed) for seed, *_ in runs)} | "
              f"{', '.join(f'{s:.1f}' for s in scores[name])} | {mean:.1f} ± {std:.1f} | "
              f"{', '.join(f'{p:g}' for p in planned)}"
              + (f" (unfinished: seed {','.join(unfinished)})" if unfinished else "") + " |")
    names = list(by_name)
    print(f"\n{tables.difference_caption(args.resamples, args.seed)}\n")
    print("| A - B | difference [95% interval] | Welch p | P(A > B) |")
    print("|---|---|---|---|")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            try:
                d = tables.difference(scores[a], scores[b], args.resamples, args.seed)
            except ValueError as err:
                sys.exit(f"compare_runs.py: {a} - {b}: {err}")
            print(f"| {a} - {b} | {tables.difference_cells(d)} |")
    mixed = tables.mixed_data([
        {"task": envs[0], **tables.fingerprints(path.parent if path.name == "results.json"
                                                else path)}
        for runs in by_name.values() for *_, path in runs],
        where="the runs' config.json files (provenance.data, dataset_size)")
    if mixed:
        print("\nMIXED DATA: compare with care:\n" + "\n".join(mixed))


if __name__ == "__main__":
    main()
