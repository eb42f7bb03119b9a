"""Train an offline imitation baseline of Table 4: DemoDICE, SMODICE, ValueDICE or IQ-Learn.

    python train_dice.py --algo=demodice --env_name=gen-hopper-medium-v0 --num_expert=1
    python train_dice.py --algo=smodice --config.f_divergence=chi2 --env_name=gen-walker2d-medium-v0
    python train_dice.py --algo=iqlearn --expert_dataset=my_demos.hdf5 --env_name=hopper-medium-v2

= train_iql.py --agent=<algo> --labeller=<its labeller> --setting=imitation. Each
learner trains on the dataset (rewards discarded) plus K demonstrations
(--num_expert from --expert_dataset; gen-* datasets have their own), with its
reference's hyperparameters (configs/<algo>_config.py; --config.<field>=... overrides)
and batch size. SMODICE's discriminator reward is the ORIL labeller's
(--oril_config.<field>); the others use --labeller=none. The loop flags
(--max_steps, --eval_interval, --eval_episodes, --seed, --save_dir, --resume) are
train_iql.py's. Runs land in <save_dir>/<algo>-[oril-]imitation-K<k>/<env_name>/seed_<seed>/.
"""

from clue_jax import interrupts

interrupts.install(raise_now=False)  # first: a Ctrl-C during the imports is kept for later

from absl import app, flags  # noqa: E402

from clue_jax.experiments import flags as run_flags  # noqa: E402
from clue_jax.experiments.agents import IMITATION_AGENTS  # noqa: E402

FLAGS = flags.FLAGS
run_flags.define_flags(default_labeller="none", default_agent="demodice",
                       default_setting="imitation")
flags.adopt_module_key_flags(run_flags)  # --help lists every run flag
flags.DEFINE_enum("algo", "demodice", IMITATION_AGENTS,
                  "The imitation learner (sets --agent and its labeller).")


def main(_):
    if FLAGS["agent"].present and FLAGS.agent != FLAGS.algo:
        raise SystemExit(f"train_dice.py: error: --agent={FLAGS.agent} and --algo={FLAGS.algo} "
                         "disagree; pass --algo only.")
    FLAGS.agent = FLAGS.algo  # its own labeller follows when --labeller is not given
    run_flags.run_from_flags(FLAGS, "train_dice.py")


if __name__ == "__main__":
    app.run(main, flags_parser=run_flags.parse_flags)
