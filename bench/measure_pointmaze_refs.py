"""Measure the reference returns of the gen-pointmaze evaluation protocol.

ref_min: mean return of a uniform random policy; ref_max: mean return of the
noiseless planner + PD controller (`clue_jax.envs.maze_planner.pd_actions`).
Each over --episodes episodes of the registered evaluation env (fixed start and
goal cells, the episode ends on success, so a return is 0 or 1). Also prints
the controller's success rate and its steps to the goal.

    PYTHONPATH=. python bench/measure_pointmaze_refs.py --episodes 1000
"""

import argparse
import time

import numpy as np

from clue_jax.envs import maze_planner, pointmaze, registry


def run_episodes(name: str, policy: str, episodes: int, seed: int):
    """(returns (E,), steps (E,)) of `policy` ('random' | 'controller') on env `name`."""
    env = registry.make_env(name, seed)
    rng = np.random.default_rng(seed)
    table = maze_planner.next_cell_table(env.unwrapped.grid)
    goal = np.asarray([pointmaze.EVAL[env.unwrapped.maze].goal])
    returns, steps = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    for episode in range(episodes):
        obs, _ = env.reset()
        done = False
        while not done:
            if policy == "random":
                action = rng.uniform(-1.0, 1.0, size=2)
            else:
                action = maze_planner.pd_actions(table, obs[None], goal)[0]
            obs, reward, terminated, truncated, _ = env.step(action)
            returns[episode] += reward
            steps[episode] += 1
            done = terminated or truncated
    return returns, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = {}
    for maze in pointmaze.MAZES:
        name = pointmaze.gen_name(maze, "diverse")
        start = time.perf_counter()
        low, _ = run_episodes(name, "random", args.episodes, args.seed)
        high, steps = run_episodes(name, "controller", args.episodes, args.seed + 1)
        reached = steps[high > 0]
        table[maze] = (float(low.mean()), float(high.mean()))
        print(f"{maze:7s} limit {pointmaze.EVAL[maze].max_episode_steps:4d}  "
              f"random {low.mean():.3f} (success {int((low > 0).sum())}/{args.episodes})  "
              f"controller {high.mean():.3f} (success {int((high > 0).sum())}/{args.episodes}, "
              f"steps {reached.min() if reached.size else '-'}-"
              f"{reached.max() if reached.size else '-'})  [{time.perf_counter() - start:.1f} s]")
    print("REFERENCE_RETURNS = {  # maze -> (ref_min, ref_max)")
    for maze, (low, high) in table.items():
        print(f"    {maze!r}: ({low}, {high}),")
    print("}")


if __name__ == "__main__":
    main()
