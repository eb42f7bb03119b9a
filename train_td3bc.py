"""Train TD3+BC offline on rewards from a labeller (= train_iql.py --agent=td3bc).

    python train_td3bc.py --env_name=hopper-medium-v2                 # the dataset's own rewards
    python train_td3bc.py --env_name=gen-hopper-medium-v0 --labeller=otr --setting=imitation

TD3+BC follows sfujim/TD3_BC (configs/td3bc_config.py; --config.<field>=... overrides);
the loop flags (--max_steps, --batch_size, --eval_interval, --eval_episodes, --seed,
--save_dir, --resume) and the labeller flags are train_iql.py's. Runs land in
<save_dir>/td3bc-<labeller...>/<env_name>/seed_<seed>/.
"""

from clue_jax import interrupts

interrupts.install(raise_now=False)  # first: a Ctrl-C during the imports is kept for later

from absl import app, flags  # noqa: E402

from clue_jax.experiments import flags as run_flags  # noqa: E402

FLAGS = flags.FLAGS
run_flags.define_flags(default_labeller="true", default_agent="td3bc")
flags.adopt_module_key_flags(run_flags)  # --help lists every run flag


def main(_):
    run_flags.run_from_flags(FLAGS, "train_td3bc.py")


if __name__ == "__main__":
    app.run(main, flags_parser=run_flags.parse_flags)
