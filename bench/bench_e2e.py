"""End-to-end seed-throughput of one group vs separate runs, each phase timed, device named.

    python bench/bench_e2e.py                               # the main job: CLUE, point maze
    python bench/bench_e2e.py --seeds=10 --separate=2 --max_steps=20000 --cvae_steps=10000
    python bench/bench_e2e.py --env=gen-hopper-medium-v0 --setting=imitation --seeds=30

Runs `train_clue.py` as separate processes, as a user would: `--separate` single runs
(`--seed=s`) one after another, then one run of `--seeds` vmapped (or `--num_experts`
K values x seeds as one `--group_file` program). Each process's wall time is measured
from outside; its phases (data, labelling, training, evaluation inside training) come
from the results.json it writes (labelling includes CLUE's CVAE training, also shown apart). Seed-throughput = runs / wall seconds; the figure
printed last is the group's over the separate runs'. The dataset is made (or read from
the cache) before anything is timed. With --json, the figures are appended to that file
(one record per invocation; reproduce.py --plan reads the newest to scale its estimates
to a program's size, and to price a learner no finished run has measured).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(cmd, log):
    """Run cmd (a list) from the repository root; returns wall seconds; raises on failure."""
    start = time.perf_counter()
    with open(log, "a") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        code = subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"bench_e2e: {' '.join(cmd[:3])} ... failed (exit {code}); see {log}")
    return time.perf_counter() - start


def phases(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    return results.get("timing", {}).get("seconds", {})


def describe(name, runs, wall, ph):
    updates = ph.get("training", 0.0) - ph.get("evaluation", 0.0)
    return (f"{name}: {runs} run(s) in {wall:.1f} s wall = {runs / wall:.3f} runs/s | data "
            f"{ph.get('data', 0):.1f} s, labelling {ph.get('labelling', 0):.1f} s (of which the "
            f"CVAE {ph.get('cvae', 0):.1f} s), updates "
            f"{updates:.1f} s, evaluation {ph.get('evaluation', 0):.1f} s (the rest: start-up, "
            f"compilation, writing)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="gen-pointmaze-umaze-diverse-v0")
    parser.add_argument("--setting", default="sparse")
    parser.add_argument("--seeds", type=int, default=10, help="runs per K in the group")
    parser.add_argument("--num_experts", default="1", help="comma-separated K values")
    parser.add_argument("--separate", type=int, default=1,
                        help="separate runs timed (their mean stands for every separate run)")
    parser.add_argument("--max_steps", type=int, default=20_000)
    parser.add_argument("--cvae_steps", type=int, default=10_000)
    parser.add_argument("--eval_interval", type=int, default=5000)
    parser.add_argument("--eval_episodes", type=int, default=10)
    parser.add_argument("--out", default=None, help="run folders (default: a temporary one)")
    parser.add_argument("--json", default=None, help="append the figures to this JSON file")
    args = parser.parse_args()

    from clue_jax.experiments import load_dataset
    t0 = time.perf_counter()
    load_dataset(args.env)
    data_s = time.perf_counter() - t0
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_e2e_"))
    out.mkdir(parents=True, exist_ok=True)
    log = out / "bench_e2e.log"
    ks = [int(k) for k in args.num_experts.split(",")]
    common = [f"--env_name={args.env}", f"--setting={args.setting}",
              f"--max_steps={args.max_steps}", f"--cvae_steps={args.cvae_steps}",
              f"--eval_interval={args.eval_interval}", f"--eval_episodes={args.eval_episodes}",
              "--notqdm"]
    from clue_jax.experiments import records
    device = records.device_name()
    print(f"bench_e2e on {device}; {args.env} ({args.setting}), CLUE K={args.num_experts}, "
          f"CVAE {args.cvae_steps} + IQL {args.max_steps} updates, {args.eval_episodes} "
          f"episodes every {args.eval_interval}; dataset ready in {data_s:.1f} s", flush=True)
    python = [sys.executable, "train_clue.py"]
    method = f"clue-{args.setting}-K{ks[0]}"
    walls, separate_phases = [], []
    for seed in range(args.separate):
        wall = timed(python + common + [f"--num_expert={ks[0]}", f"--seed={1000 + seed}",
                                        f"--save_dir={out / 'separate'}"], log)
        walls.append(wall)
        ph = phases(out / "separate" / method / args.env / f"seed_{1000 + seed}")
        separate_phases.append(ph)
        print(describe(f"separate seed {1000 + seed}", 1, wall, ph), flush=True)
    separate_rate = len(walls) / sum(walls)
    members = [[*common, f"--num_expert={k}", f"--seed={s}", f"--save_dir={out / 'group'}",
                "--labeller=clue"] for k in ks for s in range(args.seeds)]
    if len(ks) == 1:
        cmd = python + common + [f"--num_expert={ks[0]}", f"--seeds=0-{args.seeds - 1}",
                                 f"--save_dir={out / 'group'}"]
    else:
        group_file = out / "group.json"
        group_file.write_text(json.dumps(members))
        cmd = python + [f"--group_file={group_file}"]
    wall = timed(cmd, log)
    ph = phases(out / "group" / method / args.env / "seed_0")
    runs = len(members)
    from clue_jax import training
    steps = sum(map(training.evaluation_env_steps, (out / "group").glob(f"*/{args.env}/seed_*")))
    print(describe(f"group of {runs}", runs, wall, ph), flush=True)
    ratio = (runs / wall) / separate_rate
    print(f"seed-throughput: group {runs / wall:.3f} runs/s vs separate {separate_rate:.3f} "
          f"runs/s = {ratio:.2f}x", flush=True)
    if args.json:
        record = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": device, "env": args.env,
                  "setting": args.setting, "num_experts": ks, "runs": runs,
                  "max_steps": args.max_steps, "cvae_steps": args.cvae_steps,
                  "eval_interval": args.eval_interval, "eval_episodes": args.eval_episodes,
                  "separate_wall_s": [round(w, 1) for w in walls],
                  "separate_phases_s": separate_phases, "group_wall_s": round(wall, 1),
                  "group_phases_s": ph, "group_eval_env_steps": steps,
                  "throughput_ratio": round(ratio, 2),
                  "cpus": len(os.sched_getaffinity(0))}
        path = Path(args.json)
        records = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(records + [record], indent=1) + "\n")


if __name__ == "__main__":
    main()
