"""Train IQL offline; the reference's command lines work unchanged.

    python train_iql.py --env_name=antmaze-large-play-v2 --config=configs/antmaze_config.py \
        --eval_episodes=100 --eval_interval=100000

With no flags it trains on the project's generated point-maze dataset (see README).
"""

from absl import app, flags
from ml_collections import config_flags

from clue_jax import pipeline, training

FLAGS = flags.FLAGS
flags.DEFINE_string("env_name", "gen-pointmaze-umaze-diverse-v0", "Dataset / environment name.")
flags.DEFINE_string("save_dir", "./tmp/", "Folder for runs: <save_dir>/iql/<env_name>/seed_<seed>.")
flags.DEFINE_integer("seed", 42, "Random seed (network init, batches, evaluation).")
flags.DEFINE_integer("eval_episodes", 10, "Number of episodes per evaluation.")
flags.DEFINE_integer("log_interval", 1000, "Logging interval (updates).")
flags.DEFINE_integer("eval_interval", 5000, "Evaluation and checkpoint interval (updates).")
flags.DEFINE_integer("batch_size", 256, "Mini batch size.")
flags.DEFINE_integer("max_steps", None, "Number of training updates; default: 1e6 (the "
                     "reference), or the generated dataset's budget (see README).")
flags.DEFINE_boolean("tqdm", True, "Show a progress bar.")
flags.DEFINE_boolean("resume", False, "Continue the run in the run folder from its checkpoint.")
flags.DEFINE_string("dataset_path", None, "Read the dataset from this HDF5 file.")
flags.DEFINE_boolean("download", False, "Download a missing D4RL file into the D4RL cache.")
flags.DEFINE_float("dataset_fraction", 1.0, "Seeded fraction of trajectories to keep (0, 1].")
flags.DEFINE_string("reward_file", None,
                    "Train on rewards saved by train_clue.py (rewards.npz) instead of the dataset's.")
config_flags.DEFINE_config_file(
    "config", None, "IQL hyperparameter file; default: the reference config of the env's domain.",
    lock_config=False)


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
                                       "flags": pipeline.flag_dict(FLAGS), "dataset_size": dataset.size},
                             FLAGS.resume)
    loop = pipeline.loop_from_flags(FLAGS, pipeline.default_max_steps(FLAGS.env_name,
                                                                      FLAGS.max_steps))
    results, _ = pipeline.run_iql(dataset, FLAGS.env_name, config.to_dict(), loop, run_dir,
                               FLAGS.eval_episodes)
    print(f"[train_iql] {FLAGS.env_name} seed {FLAGS.seed}: normalized score "
          f"{results['final_normalized_score']} after {results['steps']} updates -> {run_dir}")


if __name__ == "__main__":
    app.run(main)
