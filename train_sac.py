"""Train SAC online on a MuJoCo locomotion env: the policies behind the gen-* locomotion datasets.

    python train_sac.py --env_name=Hopper-v5 --seed=0 --max_steps=1000000 --save_dir=runs

Writes <save_dir>/sac/<gymnasium id>/seed_<seed>/ (see clue_jax/sac_loop.py):
a resumable checkpoint every --checkpoint_interval steps (--resume continues
after a kill), an actor snapshot and its evaluated return at every
--eval_interval, and the replay log. Then pick the medium and expert actors:

    python select_policies.py --run_dir=runs/sac/Hopper-v5/seed_0
"""

import sys
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from clue_jax import sac_loop, training
from clue_jax.experiments import runner
from clue_jax.envs import locomotion

FLAGS = flags.FLAGS
flags.DEFINE_string("env_name", "Hopper-v5", "Hopper-v5 | HalfCheetah-v5 | Walker2d-v5, or a "
                    "dataset name of one of them (e.g. gen-hopper-medium-v0).")
flags.DEFINE_integer("seed", 0, "Seed of the networks, the replay sampling and the env resets.")
flags.DEFINE_integer("max_steps", 1_000_000, "Environment steps (one update each after warm-up).")
flags.DEFINE_string("save_dir", "./runs/", "Runs go to <save_dir>/sac/<env>/seed_<seed>.")
flags.DEFINE_integer("checkpoint_interval", 50_000, "Steps between full resumable checkpoints.")
flags.DEFINE_integer("eval_interval", 10_000, "Steps between evaluations (+ actor snapshots).")
flags.DEFINE_integer("eval_episodes", 10, "Deterministic episodes per evaluation.")
flags.DEFINE_boolean("resume", False, "Continue the run in the run folder from its checkpoint.")
flags.DEFINE_boolean("tqdm", True, "Show a progress bar.")
config_flags.DEFINE_config_file("config", None, "SAC hyperparameter file; default "
                                "configs/sac_config.py.", lock_config=True)


def main(_):
    if FLAGS.config is None:
        from configs import sac_config
        config = sac_config.get_config()
    else:
        config = FLAGS.config
    stem = locomotion.env_stem(FLAGS.env_name)
    gym_id = locomotion.ENVS[stem][0]
    run_dir = runner.run_dir_for(FLAGS.save_dir, "sac", gym_id, FLAGS.seed)
    loop = sac_loop.SACLoopConfig(
        env_name=locomotion.env_name_for(stem), seed=FLAGS.seed, max_steps=FLAGS.max_steps,
        start_steps=config.start_steps, batch_size=config.batch_size,
        replay_capacity=config.replay_capacity, log_interval=config.log_interval,
        eval_interval=FLAGS.eval_interval, eval_episodes=FLAGS.eval_episodes,
        checkpoint_interval=FLAGS.checkpoint_interval, progress=FLAGS.tqdm, resume=FLAGS.resume)
    command = {"env_name": FLAGS.env_name, "seed": FLAGS.seed, "max_steps": FLAGS.max_steps,
               "checkpoint_interval": FLAGS.checkpoint_interval,
               "eval_interval": FLAGS.eval_interval, "eval_episodes": FLAGS.eval_episodes}
    training.prepare_run_dir(run_dir, {"algo": "sac", "gym_id": gym_id, "flags": command,
                                       "argv": [Path(sys.argv[0]).name] + sys.argv[1:],
                                       "sac": config.to_dict()}, FLAGS.resume)
    _, snapshots = sac_loop.train_sac(loop, config.agent.to_dict(), run_dir)
    best = max(snapshots, key=lambda s: s["return"]) if snapshots else None
    print(f"[train_sac] {gym_id} seed {FLAGS.seed}: {len(snapshots)} snapshots, best return "
          f"{best and round(best['return'], 1)} at step {best and best['step']} -> {run_dir}\n"
          f"next: python select_policies.py --run_dir={run_dir}")


if __name__ == "__main__":
    app.run(main)
