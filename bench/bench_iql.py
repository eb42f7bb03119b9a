"""Print each agent's updates/s (fused lax.scan vs one jitted call per step) and eval env-steps/s.

    python bench/bench_iql.py                 # every agent, antmaze (29/8) and hopper (11/3) shapes
    taskset -c 0 python bench/bench_iql.py --agents=td3bc --eval_envs   # one core, TD3+BC only

Every agent at the same shapes: batch 256 (per source: the imitation learners
draw 256 union rows, 256 demonstration rows and 256 initial states), hidden
(256, 256), their reference configs otherwise.

Target on a 2-core CPU: fused >= 1.3x the one-step-per-call path of the same code.
The reference's one-jit-call-per-step design measured 350-440 updates/s on
antmaze shapes on these machines.
"""

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.agents import demodice, iql, iqlearn, smodice, td3bc, valuedice  # noqa: E402
from clue_jax.data.dataset import DemoData, make_dataset, sample_batch, to_device  # noqa: E402
from configs import (demodice_config, iqlearn_config, smodice_config,  # noqa: E402
                     valuedice_config)


def synthetic_data(obs_dim, act_dim, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n + 1, obs_dim)).astype(np.float32)
    return to_device(make_dataset(obs[:-1], rng.uniform(-1, 1, (n, act_dim)), rng.normal(size=n),
                                  np.zeros(n), obs[1:]))


def demo_data(obs_dim, act_dim):
    """Union, demonstrations (the first 1000 rows) and 1000 initial states."""
    union = synthetic_data(obs_dim, act_dim)
    expert = jax.tree_util.tree_map(lambda x: x[:1000], union)
    return DemoData(union, expert, union.observations[:1000])


def imitation(module, config_module):
    def make(o, a):
        cfg = config_module.get_config().to_dict()
        cfg.pop("normalize_eps", None)
        absorbing = cfg.get("absorbing", False)
        return module.create(0, o + absorbing, a, np.zeros(o), np.ones(o), cfg)
    return make


# agent -> (module, create(obs_dim, act_dim)); same shapes: batch 256, hidden (256, 256)
AGENTS = {
    "IQL": (iql, lambda o, a: iql.create(0, jnp.zeros((1, o)), jnp.zeros((1, a)), expectile=0.9,
                                         temperature=10.0, max_steps=10**6)),
    "TD3+BC": (td3bc, lambda o, a: td3bc.create(0, jnp.zeros((1, o)), jnp.zeros((1, a)))),
    "SMODICE": (smodice, imitation(smodice, smodice_config)),
    "DemoDICE": (demodice, imitation(demodice, demodice_config)),
    "ValueDICE": (valuedice, imitation(valuedice, valuedice_config)),
    "IQ-Learn": (iqlearn, imitation(iqlearn, iqlearn_config)),
}
NAMES = {"iql": "IQL", "td3bc": "TD3+BC", "smodice": "SMODICE", "demodice": "DemoDICE",
         "valuedice": "ValueDICE", "iqlearn": "IQ-Learn"}


def bench_updates(name, obs_dim, act_dim, steps, chunk, repeats):
    module, make = AGENTS[name]
    agent = make(obs_dim, act_dim)
    if isinstance(agent, (iql.IQLAgent, td3bc.TD3BCAgent)):
        data = synthetic_data(obs_dim, act_dim)
    else:  # absorbing-state learners see one more input dimension
        data = demo_data(obs_dim + int(agent.absorbing), act_dim)
    key = jax.random.PRNGKey(0)
    # warm up both paths (compile)
    agent, key, info = module.jit_update_n(agent, data, key, num_steps=chunk, batch_size=256)
    sample = jax.jit(sample_batch, static_argnames="batch_size")
    agent, _ = module.jit_update(agent, sample(data, key, batch_size=256))
    jax.block_until_ready(agent)
    fused, single = [], []
    for _ in range(repeats):  # interleave A/B runs: these machines swing +-20%
        t0 = time.perf_counter()
        for _ in range(steps // chunk):
            agent, key, info = module.jit_update_n(agent, data, key, num_steps=chunk,
                                                   batch_size=256)
        jax.block_until_ready(agent)
        fused.append(steps / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(steps):
            key, bkey = jax.random.split(key)
            agent, info = module.jit_update(agent, sample(data, bkey, batch_size=256))
        jax.block_until_ready(agent)
        single.append(steps / (time.perf_counter() - t0))
    return float(np.median(fused)), float(np.median(single))


def bench_eval(env_name, episodes):
    from clue_jax import evaluation
    from clue_jax.envs import registry
    spec = registry.get_spec(env_name)
    agent = iql.create(0, jnp.zeros((1, spec.obs_dim)), jnp.zeros((1, spec.act_dim)))
    policy = lambda obs: np.asarray(iql.eval_actions(agent.actor, jnp.asarray(obs)))  # noqa
    policy(np.zeros((episodes, spec.obs_dim), np.float32))
    t0 = time.perf_counter()
    out = evaluation.evaluate(policy, env_name, num_episodes=episodes, seed=0)
    dt = time.perf_counter() - t0
    return out["length"] * episodes / dt, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--agents", default=",".join(NAMES),
                        help="comma-separated: " + ", ".join(NAMES))
    parser.add_argument("--eval_envs", nargs="*", default=["hopper-medium-v2",
                                                           "antmaze-umaze-v2",
                                                           "gen-pointmaze-umaze-diverse-v0"])
    parser.add_argument("--eval_episodes", type=int, default=10)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; batch 256, hidden (256, 256)")
    names = NAMES
    for agent in args.agents.split(","):
        for name, (o, a) in {"antmaze": (29, 8), "hopper": (11, 3)}.items():
            fused, single = bench_updates(names[agent], o, a, args.steps, args.chunk,
                                          args.repeats)
            print(f"{names[agent]:9s} {name:8s} ({o}/{a}): fused {fused:7.0f} upd/s | one call "
                  f"per step {single:7.0f} upd/s | speed-up {fused / single:.2f}x", flush=True)
    for env_name in args.eval_envs:
        sps, out = bench_eval(env_name, args.eval_episodes)
        print(f"eval {env_name}: {args.eval_episodes} episodes at once, {sps:,.0f} env-steps/s "
              f"(mean length {out['length']:.0f})")


if __name__ == "__main__":
    main()
