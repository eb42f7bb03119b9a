"""CLUE: label rewards with a calibrated CVAE, then train IQL on them (= train_iql.py --labeller=clue).

    python train_clue.py                       # sparse setting, embedded point-maze data
    python train_clue.py --env_name=antmaze-large-play-v2 --num_expert=1
    python train_clue.py --setting=imitation --env_name=hopper-medium-v2 \
        --expert_dataset=<demonstrations name or file> --num_expert=10
    python train_clue.py --setting=imitation --env_name=gen-hopper-medium-v0  # own demos
    python train_clue.py --setting=unsupervised --env_name=<dataset> --skills=0,1,2
Ablations: --nocalibrate (plain CVAE), --temperature=5, --dataset_fraction=0.1,
--num_expert=10. Full control: --clue_config=configs/clue_config.py:antmaze
(then --clue_config.<field>=... overrides single fields).
"""

from clue_jax import interrupts

interrupts.install(raise_now=False)  # first: a Ctrl-C during the imports is kept for later

from absl import app, flags  # noqa: E402

from clue_jax.experiments import flags as run_flags  # noqa: E402

FLAGS = flags.FLAGS
run_flags.define_flags(default_labeller="clue")
flags.adopt_module_key_flags(run_flags)  # --help lists every run flag


def main(_):
    run_flags.run_from_flags(FLAGS, "train_clue.py")


if __name__ == "__main__":
    app.run(main, flags_parser=run_flags.parse_flags)
