"""Train IQL offline; the reference's command lines work unchanged.

    python train_iql.py --env_name=antmaze-large-play-v2 --config=configs/antmaze_config.py \
        --eval_episodes=100 --eval_interval=100000

With no flags it trains on the project's generated point-maze dataset (see README).
"""

from absl import app, flags
from clue_jax import cli, pipeline, training

FLAGS = flags.FLAGS
cli.define_run_flags()
flags.DEFINE_string("reward_file", None,
                    "Train on rewards saved by train_clue.py (rewards.npz) instead of the dataset's.")


def main(_):
    config = FLAGS.config if FLAGS.config is not None else pipeline.default_iql_config(FLAGS.env_name)
    spec, dataset = pipeline.load_task(FLAGS.env_name, dataset_path=FLAGS.dataset_path,
                                       download=FLAGS.download, fraction=FLAGS.dataset_fraction,
                                       seed=FLAGS.seed)
    if FLAGS.reward_file:
        from clue_jax.rewards import storage
        dataset = dataset.with_rewards(storage.load_rewards(FLAGS.reward_file, dataset))
    else:
        dataset = pipeline.preprocess_rewards(dataset, spec)
    run_dir = pipeline.run_dir_for(FLAGS.save_dir, "iql", FLAGS.env_name, FLAGS.seed)
    training.prepare_run_dir(run_dir, {"algo": "iql", "iql": pipeline.config_to_dict(config),
                                       "flags": cli.flag_dict(FLAGS), "dataset_size": dataset.size},
                             FLAGS.resume)
    loop = pipeline.loop_from_flags(FLAGS, pipeline.default_max_steps(FLAGS.env_name,
                                                                      FLAGS.max_steps))
    results, _ = pipeline.run_iql(dataset, FLAGS.env_name, config.to_dict(), loop, run_dir,
                               FLAGS.eval_episodes)
    print(f"[train_iql] {FLAGS.env_name} seed {FLAGS.seed}: normalized score "
          f"{results['final_normalized_score']} after {results['steps']} updates -> {run_dir}")


if __name__ == "__main__":
    app.run(main)
