"""Train IQL offline on rewards from a labeller; the reference's command lines work unchanged.

    python train_iql.py --env_name=antmaze-large-play-v2 --config=configs/antmaze_config.py \
        --eval_episodes=100 --eval_interval=100000
    python train_iql.py --labeller=otr --env_name=gen-pointmaze-large-diverse-v0 --num_expert=1
    python train_iql.py --labeller=clue --setting=imitation --env_name=gen-hopper-medium-v0

--labeller=true (default) trains on the dataset's own rewards; clue and otr label
them from K expert trajectories (--setting, --num_expert, --expert_dataset). With no
flags it trains on the project's generated point-maze dataset (see README).
"""

from clue_jax import interrupts

interrupts.install(raise_now=False)  # first: a Ctrl-C during the imports is kept for later

from absl import app, flags  # noqa: E402

from clue_jax.experiments import flags as run_flags  # noqa: E402

FLAGS = flags.FLAGS
run_flags.define_flags(default_labeller="true")
flags.adopt_module_key_flags(run_flags)  # --help lists every run flag


def main(_):
    run_flags.run_from_flags(FLAGS, "train_iql.py")


if __name__ == "__main__":
    app.run(main, flags_parser=run_flags.parse_flags)
