"""The goal-reaching ant steered by the waypoint planner: success on each maze, and the
rate at which the AntMaze datasets are generated.

    python bench/bench_antmaze_policy.py                      # the shipped policy
    python bench/bench_antmaze_policy.py --actor=runs/sac/gen-antgoal-v0/seed_0/actor_500000.msgpack
    python bench/bench_antmaze_policy.py --run_dir=runs/sac/gen-antgoal-v0/seed_0 --mazes=umaze

Per maze, `--episodes` episodes of the evaluation protocol (the antmaze-*-v2 env: start in
the start cell, the evaluation goal drawn per episode, 700 steps on umaze and 1000 on the
others) with the generator's steering (generation/antmaze_datasets.py: waypoints, no
action noise, the policy's mean action): the fraction that reaches the goal (within 0.5).
Targets: >= 80% on umaze, >= 50% on large. With --run_dir every snapshot of a SAC run is
measured (pick the best for <policy dir>/antgoal/policy.msgpack). Then the generation rate
of gen-antmaze-umaze-v0 (transitions per second, `--gen_size` rows). Prints figures only.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.agents import sac_actor  # noqa: E402
from clue_jax.envs import antmaze, batched  # noqa: E402
from clue_jax.generation import antmaze_datasets as gen  # noqa: E402

STEPS = {"umaze": 700, "medium": 1000, "large": 1000}


def success_rate(actor, maze: str, episodes: int, seed: int = 0) -> float:
    """Fraction of `episodes` evaluation episodes of `maze` that reach the goal."""
    policy = sac_actor.batched_policy(actor)
    envs = [gen.ant_env(maze, STEPS[maze]) for _ in range(episodes)]
    stepper = batched.BatchStepper(envs)
    table = gen.planner_table(maze)
    rng = np.random.default_rng(seed)
    try:
        for i in range(episodes):
            stepper.reset(i, seed=seed + i)
        goals = np.stack([e.unwrapped.goal for e in envs])
        goal_cells = gen.cell_of(goals)
        rows = np.arange(episodes)
        done = np.zeros(episodes, bool)
        for _ in range(STEPS[maze]):
            live = rows[~done]
            if not len(live):
                break
            qpos, qvel = stepper.state(live)
            targets = gen.waypoints(table, qpos[:, :2], goals[live], goal_cells[live], rng)
            actions, _ = policy(gen.policy_observations(qpos, qvel, targets),
                                np.zeros((len(live), antmaze.ACT_DIM)))
            out = stepper.step(np.clip(actions, -1, 1).astype(np.float32), live)
            done[live[out.success]] = True
        return float(done.mean())
    finally:
        stepper.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actor", default=None, help="an actor snapshot (default: shipped)")
    parser.add_argument("--run_dir", default=None, help="measure every snapshot of a SAC run")
    parser.add_argument("--mazes", default="umaze,medium,large")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--gen_size", type=int, default=20_000)
    args = parser.parse_args()
    mazes = args.mazes.split(",")
    import jax
    print(f"bench_antmaze_policy: jax {jax.__version__} on {jax.devices()[0].platform}, "
          f"{args.episodes} episodes per maze", flush=True)
    if args.run_dir:
        index = json.loads((Path(args.run_dir) / "snapshots.json").read_text())["snapshots"]
        for snap in index:
            actor = sac_actor.load_actor(Path(args.run_dir) / snap["file"])
            rates = {m: success_rate(actor, m, args.episodes) for m in mazes}
            print(f"  step {snap['step']:>8}: return {snap['return']:8.1f}  "
                  + "  ".join(f"{m} {100 * r:5.1f}%" for m, r in rates.items()), flush=True)
        return
    actor = (sac_actor.load_actor(args.actor) if args.actor
             else gen.load_policy("bench_antmaze_policy"))
    for maze in mazes:
        start = time.perf_counter()
        rate = success_rate(actor, maze, args.episodes)
        print(f"  {maze:7s} success {100 * rate:5.1f}% ({args.episodes} episodes, "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    start = time.perf_counter()
    data, _ = gen.generate("umaze", args.gen_size, 0, actor=actor)
    seconds = time.perf_counter() - start
    print(f"  generation: {len(data['rewards'])} transitions of gen-antmaze-umaze-v0 in "
          f"{seconds:.1f} s = {len(data['rewards']) / seconds:.0f} transitions/s "
          f"({batched.default_threads()} MuJoCo threads)")


if __name__ == "__main__":
    main()
