"""Print SAC env-steps/s (one fused update per step) and dataset-generation transitions/s.

    python bench/bench_sac.py                      # Hopper-v5, MuJoCo defaults
    python bench/bench_sac.py --steps 5000 --env halfcheetah

SAC: the train_sac.py inner loop (host MuJoCo step, replay-log row, then
`sac.env_step`: an in-place insert into the 1M-row device buffer and one jitted
call that updates on a 256 batch with (256, 256) nets and samples the next
action), timed after compilation; also the env step
alone and the two device calls alone (insert + update-and-act), to show where
the time goes.
Generation: `locomotion_datasets.generate` with a freshly initialised (256, 256)
actor (the 'random' quality; medium/expert cost the same per step).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import sac_loop  # noqa: E402
from clue_jax.agents import sac  # noqa: E402
from clue_jax.data import replay  # noqa: E402
from clue_jax.generation import locomotion_datasets  # noqa: E402
from clue_jax.envs import locomotion, registry  # noqa: E402
from clue_jax.types import Batch  # noqa: E402


def bench_sac(env: str, steps: int, capacity: int) -> dict:
    name = locomotion.gen_name(env, "expert")
    spec = registry.get_spec(name)
    runner = sac_loop.EnvRunner(name, 0)
    agent = sac.create(0, spec.obs_dim, spec.act_dim)
    buffer = replay.create_buffer(capacity, spec.obs_dim, spec.act_dim)
    obs = runner.reset()
    agent, action = sac.jit_sample_action(agent, obs, random=True)
    log = replay.ReplayLog(Path(tempfile.mkdtemp()) / "replay")

    def run(n, learn):
        nonlocal agent, buffer, action, obs
        for _ in range(n):
            qpos, qvel = runner.physics()
            action = np.asarray(action)
            next_obs, reward, term, trunc = runner.step(action)
            log.append(obs, action, reward, term, trunc, next_obs, qpos, qvel)
            row = Batch(obs, action, np.float32(reward), np.float32(1.0 - term), next_obs)
            if term or trunc:
                next_obs = runner.reset()
            agent, buffer, action, _ = sac.env_step(agent, buffer, row, next_obs,
                                                        learn=learn, random=not learn,
                                                        batch_size=256)
            obs = next_obs
        jax.block_until_ready(action)

    run(300, learn=False)  # warm-up rows, compile the random-action variant
    run(5, learn=True)     # compile the learning variant
    t0 = time.perf_counter()
    run(steps, learn=True)
    full = steps / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for _ in range(steps):
        if any(runner.step(np.zeros(spec.act_dim, np.float32))[2:]):
            runner.reset()
    env_only = steps / (time.perf_counter() - t0)

    row = Batch(obs, np.asarray(action), np.float32(0), np.float32(1), obs)
    t0 = time.perf_counter()
    for _ in range(steps):
        agent, buffer, action, _ = sac.env_step(agent, buffer, row, obs, learn=True,
                                                    random=False, batch_size=256)
    jax.block_until_ready(action)
    jit_only = steps / (time.perf_counter() - t0)
    return {"env_steps_per_s": full, "env_step_only_per_s": env_only,
            "device_calls_only_per_s": jit_only}


def bench_generation(env: str, size: int) -> float:
    locomotion_datasets.generate(env, "random", 1000, seed=1)  # compile
    t0 = time.perf_counter()
    locomotion_datasets.generate(env, "random", size, seed=0)
    return size / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="hopper", choices=sorted(locomotion.ENVS))
    parser.add_argument("--steps", type=int, default=2000, help="timed SAC steps")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="replay rows")
    parser.add_argument("--gen_size", type=int, default=50_000, help="generated transitions")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; env {args.env}")
    sac_rates = bench_sac(args.env, args.steps, args.capacity)
    for key, value in sac_rates.items():
        print(f"  SAC {key}: {value:.0f}")
    hours = 1_000_000 / sac_rates["env_steps_per_s"] / 3600
    print(f"  -> 1M SAC steps ~ {hours:.1f} h (plus evaluations and checkpoints)")
    rate = bench_generation(args.env, args.gen_size)
    n_envs = max(1, min(locomotion_datasets.NUM_ENVS, args.gen_size // 1000))
    print(f"  generation ({n_envs} envs): {rate:.0f} transitions/s -> 1M in "
          f"{1_000_000 / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
