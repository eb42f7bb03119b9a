"""Print CLUE's CVAE updates/s (fused lax.scan vs one jitted call per step) and labelling rate.

    PYTHONPATH=. python bench/bench_clue.py              # antmaze shapes: 29/8, hidden 512, batch 256
    PYTHONPATH=. taskset -c 0 python bench/bench_clue.py # one core, steadier figures

Synthetic random data (no files needed): `--n` unlabelled transitions, 5000
expert transitions. Labelling covers all `--n` transitions with the default
chunk of 65536 rows; the first (compiling) call is reported separately.
"""

import argparse
import time

import jax
import numpy as np

from clue_jax.data.dataset import make_dataset, sample_batch, to_device
from clue_jax.rewards import clue, labelling
from configs.clue_config import get_config


def synthetic(n, obs_dim, act_dim, seed):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    act = rng.uniform(-1, 1, (n, act_dim)).astype(np.float32)
    return make_dataset(obs, act, np.zeros(n), np.zeros(n), obs, clip_actions=False)


def timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--domain", default="antmaze")
    parser.add_argument("--obs-dim", type=int, default=29)
    parser.add_argument("--act-dim", type=int, default=8)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=500, help="fused updates per timed call")
    parser.add_argument("--single", type=int, default=100, help="one-call-per-step updates")
    args = parser.parse_args()

    config = get_config(args.domain)
    data = synthetic(args.n, args.obs_dim, args.act_dim, 0)
    expert = synthetic(5000, args.obs_dim, args.act_dim, 1)
    d_data, d_expert = to_device(data), to_device(expert)
    state = clue.create_clue_state(config, data, seed=0)
    print(f"{jax.devices()[0].platform}: obs {args.obs_dim} act {args.act_dim} hidden "
          f"{config.hidden_dims} batch {config.batch_size} latent {state.latent_dim}, "
          f"N = {args.n:,}")

    (state, _), compile_s = timed(clue.train_cvae, state, d_data, d_expert, args.steps)
    (state, _), run_s = timed(clue.train_cvae, state, d_data, d_expert, args.steps)
    print(f"fused train_cvae: {args.steps / run_s:,.0f} updates/s "
          f"({args.steps} steps in {run_s:.2f} s; first call incl. compile {compile_s:.1f} s); "
          f"{config.num_steps:,} steps would take {config.num_steps / (args.steps / run_s):.0f} s")

    key = jax.random.PRNGKey(0)
    batches = [(clue.sample_union(d_data, d_expert, k, config.batch_size),
                sample_batch(d_expert, k, config.batch_size))
               for k in jax.random.split(key, args.single + 1)]
    state, _ = jax.block_until_ready(clue.jit_cvae_update(state, *batches[0]))
    start = time.perf_counter()
    for vae_batch, expert_batch in batches[1:]:
        state, _ = clue.jit_cvae_update(state, vae_batch, expert_batch)
    jax.block_until_ready(state)
    single_s = time.perf_counter() - start
    print(f"one jitted call per step: {args.single / single_s:,.0f} updates/s")

    model = state.model
    z_e = labelling.expert_embedding(model, expert.observations, expert.actions)
    _, first_s = timed(labelling.label_rewards, model, data.observations, data.actions, z_e, 10.0)
    rewards, label_s = timed(labelling.label_rewards, model, data.observations, data.actions,
                             z_e, 10.0)
    print(f"label_rewards (mean z): {args.n / label_s:,.0f} transitions/s "
          f"({args.n:,} in {label_s:.2f} s; first call incl. compile {first_s:.2f} s); "
          f"jit cache entries {labelling._reward_chunk._cache_size()}")
    _, sample_s = timed(labelling.label_rewards, model, data.observations, data.actions, z_e,
                        10.0, False, key)
    _, sample_s = timed(labelling.label_rewards, model, data.observations, data.actions, z_e,
                        10.0, False, key)
    print(f"label_rewards (sampled z): {args.n / sample_s:,.0f} transitions/s")
    assert rewards.shape == (args.n,)


if __name__ == "__main__":
    main()
