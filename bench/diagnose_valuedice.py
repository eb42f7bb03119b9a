"""Does ValueDICE's actor move at Table 4's budget? Its distance from initialisation and
the likelihood it gives the data's and the demonstrations' actions, over training.

    python bench/diagnose_valuedice.py                                   # Table 4's budget
    python bench/diagnose_valuedice.py --actor_lr=1e-3 --seeds=0         # a faster actor

The run is Table 4's ValueDICE cell (imitation, K demonstrations of the shipped expert,
the reference config: actor Adam 1e-5, nu 1e-3, batch 256) built from the same pieces a
run uses (experts, labelling, the learner's data and agent); every `--every` updates it
prints, per seed: ||theta - theta_0|| / ||theta_0|| over the actor's parameters, the
mean log pi(a | s) of 20,000 fixed union rows' actions and of the demonstrations'
actions (tanh-Gaussian, as the DICE learners score actions), the mean |tanh(mu(s)) - a|
on the demonstrations (the evaluation action's error) and the last step's objective.
"""

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import networks  # noqa: E402
from clue_jax.agents import imitation  # noqa: E402
from clue_jax.data.dataset import real_rows  # noqa: E402
from clue_jax.experiments import domains, runner  # noqa: E402
from clue_jax.experiments.agents import AGENTS  # noqa: E402
from clue_jax.experiments.plan import make_plan  # noqa: E402
from clue_jax.experiments.settings import RunSettings  # noqa: E402


def actor_scores(agent, obs, actions):
    """(mean log pi(a|s), mean |tanh(mu) - a|) of rows (obs with the indicator, actions)."""
    import jax.numpy as jnp
    s = imitation.standardize(jnp.asarray(obs), agent.obs_mean, agent.obs_std)
    means, log_stds = agent.actor.apply_fn({"params": agent.actor.params}, s)
    log_prob = networks.tanh_gaussian_log_prob_of_actions(means, log_stds, jnp.asarray(actions),
                                                          1e-6)
    return float(log_prob.mean()), float(jnp.abs(jnp.tanh(means) - actions).mean())


def relative_distance(params, initial) -> float:
    import jax
    diff = sum(float(np.sum((np.asarray(a) - b) ** 2))
               for a, b in zip(jax.tree_util.tree_leaves(params), initial))
    return float(np.sqrt(diff / sum(float(np.sum(b ** 2)) for b in initial)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env_name", default="gen-hopper-medium-v0")
    parser.add_argument("--num_expert", type=int, default=1)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--actor_lr", type=float, default=None, help="default: the config's")
    args = parser.parse_args()
    import jax
    task = domains.resolve_task(args.env_name)
    spec = AGENTS["valuedice"]
    print(f"diagnose_valuedice: {args.env_name}, K={args.num_expert}, {args.steps} updates, "
          f"on {jax.devices()[0].platform}", flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        settings = RunSettings(env_name=args.env_name, agent="valuedice", labeller="none",
                               setting="imitation", num_expert=args.num_expert, seed=seed,
                               progress=False)
        dataset = runner.discard_rewards(task.dataset)
        plan = make_plan(settings)
        selection = runner.choose_experts(plan, task, dataset)
        with tempfile.TemporaryDirectory() as tmp:
            (data, demos, _), = runner.label_seeds([dataclasses.replace(plan, run_dir=Path(tmp))],
                                                   task, dataset, [selection], None)
        config = plan.agent_config_dict()
        if args.actor_lr is not None:
            config["actor_lr"] = args.actor_lr
        agent = spec.create(seed, data, config, args.steps, demos)
        device_data = spec.make_data(data, demos, config)
        rows = np.flatnonzero(real_rows(data.observations))
        rows = np.random.default_rng(seed).choice(rows, min(20_000, len(rows)), replace=False)
        probes = {"data": (data.observations[rows], data.actions[rows]),
                  "demo": (demos.observations[real_rows(demos.observations)],
                           demos.actions[real_rows(demos.observations)])}
        initial = [np.array(x) for x in jax.tree_util.tree_leaves(agent.actor.params)]
        key = jax.random.PRNGKey(seed + 1)
        print(f"seed {seed} (actor lr {config['actor_lr']}): step  ||dtheta||/||theta0||  "
              "logpi(data a)  logpi(demo a)  |tanh(mu)-a| demo  objective", flush=True)
        step, info, start = 0, {}, time.time()
        while True:
            data_lp, _ = actor_scores(agent, *probes["data"])
            demo_lp, demo_err = actor_scores(agent, *probes["demo"])
            objective = float(info["objective"]) if info else float("nan")
            print(f"  {step:>7d}  {relative_distance(agent.actor.params, initial):.4f}  "
                  f"{data_lp:8.3f}  {demo_lp:8.3f}  {demo_err:.4f}  {objective:8.4f}", flush=True)
            if step >= args.steps:
                break
            agent, key, info = spec.update_n(agent, device_data, key, num_steps=args.every,
                                             batch_size=spec.batch_size)
            step += args.every
        print(f"  ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
