"""Train SAC online: the policies behind the generated datasets.

    python train_sac.py --env_name=Hopper-v5 --seed=0 --max_steps=1000000 --save_dir=runs
    python train_sac.py --env_name=gen-antgoal-v0 ...    # the goal-reaching ant (AntMaze data)

Writes <save_dir>/sac/<gymnasium id>/seed_<seed>/ (see clue_jax/sac_loop.py):
a resumable checkpoint every --checkpoint_interval steps (--resume continues
after a kill), an actor snapshot and its evaluated return at every
--eval_interval, and the replay log. Then pick the medium and expert actors:

    python select_policies.py --run_dir=runs/sac/Hopper-v5/seed_0
"""

import sys
from pathlib import Path

from clue_jax import interrupts

interrupts.install(raise_now=False)  # first: a Ctrl-C during the imports is kept for later

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from clue_jax.experiments.flags import INTERRUPTED_EXIT  # noqa: E402
from clue_jax.experiments.sac import SACSettings, run_sac  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("env_name", "Hopper-v5", "Hopper-v5 | HalfCheetah-v5 | Walker2d-v5, or a "
                    "dataset name of one of them (e.g. gen-hopper-medium-v0); or "
                    "gen-antgoal-v0, the goal-reaching ant (clue_jax/envs/antgoal.py).")
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
    try:
        interrupts.arm()  # a Ctrl-C during the imports ends the run here
        run_sac(SACSettings(env_name=FLAGS.env_name, seed=FLAGS.seed, max_steps=FLAGS.max_steps,
                            save_dir=FLAGS.save_dir, checkpoint_interval=FLAGS.checkpoint_interval,
                            eval_interval=FLAGS.eval_interval, eval_episodes=FLAGS.eval_episodes,
                            resume=FLAGS.resume, progress=FLAGS.tqdm, config=FLAGS.config,
                            argv=[Path(sys.argv[0]).name] + sys.argv[1:]))
    except KeyboardInterrupt:
        print("train_sac.py: interrupted. The run keeps its last checkpoint; rerun the same "
              "command with --resume to continue.", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)


if __name__ == "__main__":
    app.run(main)
