"""The evaluation backends side by side: the shipped experts' scores and each backend's time.

    python bench/bench_eval_backends.py                        # 50 + 50 episodes per env
    python bench/bench_eval_backends.py --envs=hopper --episodes=500 --backends=host,device

For each env, `--episodes` envs run the shipped SAC expert (deterministic) twice (reset
seeds 0.. and max(1000, --episodes).., so no episode repeats) on every backend, from the same
reset states (the envs' own resets): `reference` (each env through its own step), `host`
(mujoco.batch on host threads; equal episodes to the reference) and `device` (MuJoCo XLA,
float32, needs mujoco-mjx). Printed per backend: the first call's seconds (compilation
included), the second's, and the mean normalized score; then each backend's difference from
the first one named (device - host by default), paired over the episodes: its standard error,
95% interval, the pairs' correlation and a verdict against `--tolerance` (default 1
normalized point), with the number of pairs that would settle it where these did not. The
device named is JAX's default.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import evaluation  # noqa: E402
from clue_jax.agents import sac_actor  # noqa: E402
from clue_jax.envs import registry  # noqa: E402
from clue_jax.generation import locomotion_datasets  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", default="hopper,walker2d,halfcheetah")
    parser.add_argument("--episodes", type=int, default=50, help="envs per call (2 calls)")
    parser.add_argument("--max_steps", type=int, default=1000)
    parser.add_argument("--backends", default="host,device")
    parser.add_argument("--tolerance", type=float, default=1.0,
                        help="normalized points the device may differ by (the verdict's bound)")
    args = parser.parse_args()
    import jax
    device = jax.devices()[0]
    print(f"bench_eval_backends on {device.platform}: {device.device_kind}; {args.episodes} "
          f"envs x 2 calls, up to {args.max_steps} steps, the shipped experts", flush=True)
    for env in args.envs.split(","):
        name = locomotion_datasets.locomotion.gen_name(env, "expert")
        policy = sac_actor.jax_policy(locomotion_datasets.load_policy(env, "expert"))
        scores = {}
        for backend in args.backends.split(","):
            with evaluation.Evaluator(name, args.episodes, max_steps=args.max_steps,
                                      backend=backend) as ev:
                times, returns, steps = [], [], 0
                for offset in (0, max(1000, args.episodes)):
                    start = time.perf_counter()
                    out = ev.run(policy, [offset + i for i in range(args.episodes)])
                    times.append(time.perf_counter() - start)
                    returns.append(out["returns"])
                    steps += int(out["lengths"].sum())
            scores[backend] = registry.normalized_score(name, np.concatenate(returns))
            print(f"{name} {backend:9s}: {times[0]:7.1f} s first call, {times[1]:7.1f} s second "
                  f"({times[1] / (steps / 2) * 1e6:.1f} us per env step); score "
                  f"{scores[backend].mean():.2f} ± {scores[backend].std() / np.sqrt(len(scores[backend])):.2f} (se)",
                  flush=True)
        first, *others = scores
        for backend in others:
            print(difference_line(name, backend, scores[backend], first, scores[first],
                                  args.tolerance), flush=True)


def difference_line(name: str, backend: str, scores: np.ndarray, base: str,
                    base_scores: np.ndarray, tolerance: float) -> str:
    """One backend's score minus another's, paired over episodes from the same reset states:
    its mean, paired standard error and normal 95% interval; the pairs' correlation (near 0
    where the two physics part early in every episode, so pairing does not help); the pairs a
    95% interval of +-tolerance would need at this spread; and the verdict: the interval
    inside +-tolerance (within it, shown), outside it (a difference), or neither (not shown)."""
    diff = scores - base_scores
    n = len(diff)
    se = diff.std(ddof=1) / np.sqrt(n)
    low, high = diff.mean() - 1.96 * se, diff.mean() + 1.96 * se
    corr = (float(np.corrcoef(scores, base_scores)[0, 1])
            if scores.std() > 0 and base_scores.std() > 0 else np.nan)
    needed = int(np.ceil((1.96 * diff.std(ddof=1) / tolerance) ** 2))
    points = f"{tolerance:g} point" + ("" if tolerance == 1 else "s")
    if -tolerance < low and high < tolerance:
        verdict = f"within {points}: shown"
    elif low > tolerance or high < -tolerance:
        verdict = f"differs by more than {points}"
    else:
        verdict = (f"within {points}: not shown (an interval of ± {points} needs about "
                   f"{needed} pairs at this spread)")
    return (f"{name}: {backend} - {base} = {diff.mean():+.2f} ± {se:.2f} (paired se, {n} episodes), "
            f"95% interval [{low:+.2f}, {high:+.2f}]; pairs' correlation {corr:.2f}; {verdict}")


if __name__ == "__main__":
    main()
