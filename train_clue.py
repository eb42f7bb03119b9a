"""CLUE: label rewards with a calibrated CVAE, then train IQL on them.

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

from absl import app, flags
from ml_collections import config_flags

from clue_jax import cli, clue_run, pipeline, training

FLAGS = flags.FLAGS
cli.define_run_flags()
flags.DEFINE_enum("setting", "sparse", clue_run.SETTINGS,
                  "sparse: the dataset's successful trajectories are the experts; imitation: "
                  "K trajectories of --expert_dataset, dataset rewards discarded; unsupervised: "
                  "K-means clusters of (s, a, s') are the experts, one skill policy per cluster.")
flags.DEFINE_integer("num_expert", 1, "K: number of expert trajectories (at most K in sparse).")
flags.DEFINE_string("expert_dataset", None, "Imitation: demonstrations (name or HDF5 path); "
                    "default for gen-* datasets: their own (gen-hopper-expert-demos-v0, ...).")
flags.DEFINE_string("skills", "0,1,2", "Unsupervised: comma-separated cluster ids, or 'all'.")
flags.DEFINE_integer("n_clusters", 100, "Unsupervised: K-means clusters (paper: 100).")
flags.DEFINE_boolean("calibrate", True, "Use the calibration loss (Eq. 7); --nocalibrate is "
                     "the plain-CVAE ablation (paper Fig. 4).")
flags.DEFINE_float("temperature", None, "Reward temperature c of Eq. 6 (default: the CLUE config's).")
flags.DEFINE_integer("cvae_steps", None, "CVAE iterations (default: the CLUE config's).")
flags.DEFINE_boolean("compare_uncalibrated", False,
                     "Also train a CVAE without calibration for the side-by-side latent figure.")
config_flags.DEFINE_config_file("clue_config", None, "CLUE hyperparameters, e.g. "
                                "configs/clue_config.py:antmaze (default: by domain).",
                                lock_config=False)


def method_name(clue_config) -> str:
    """Run-folder name of the method: clue-<setting>-K<k>[-nocalib]."""
    name = f"clue-{FLAGS.setting}-K{FLAGS.num_expert}"
    return name if clue_config.calibrate else name + "-nocalib"


def main(_):
    spec, dataset = pipeline.load_task(FLAGS.env_name, dataset_path=FLAGS.dataset_path,
                                       download=FLAGS.download, fraction=FLAGS.dataset_fraction,
                                       seed=FLAGS.seed)
    iql_config = FLAGS.config or pipeline.default_iql_config(FLAGS.env_name)
    clue_config = pipeline.clue_config_with_flags(
        FLAGS.clue_config or pipeline.default_clue_config(FLAGS.env_name), FLAGS)
    loop = pipeline.loop_from_flags(FLAGS, max_steps=pipeline.default_max_steps(
        FLAGS.env_name, FLAGS.max_steps))
    if FLAGS.setting == "unsupervised":
        from clue_jax import skills
        skills.run(FLAGS, spec, dataset, iql_config, clue_config, loop)
        return
    ground_truth = None
    if FLAGS.setting == "imitation":
        dataset = clue_run.discard_rewards(dataset)
    else:
        ground_truth = dataset.rewards
    run_dir = pipeline.run_dir_for(FLAGS.save_dir, method_name(clue_config), FLAGS.env_name,
                                   FLAGS.seed)
    training.prepare_run_dir(run_dir, {
        "algo": method_name(clue_config), "iql": iql_config.to_dict(),
        "clue": clue_config.to_dict(), "flags": cli.flag_dict(FLAGS),
        "dataset_size": dataset.size, "loop": pipeline.config_to_dict(loop)}, FLAGS.resume)
    demonstrations = FLAGS.expert_dataset or clue_run.default_demonstrations(FLAGS.env_name)
    selection = clue_run.choose_experts(FLAGS.setting, dataset, FLAGS.num_expert, FLAGS.seed,
                                        demonstrations)
    print(f"[train_clue] experts: {selection.message}")
    clue_run.write_experts(run_dir, selection, {"setting": FLAGS.setting,
                                                "num_expert": FLAGS.num_expert})
    state = clue_run.fit_cvae(clue_config, dataset, selection.dataset, FLAGS.seed, run_dir,
                              resume=FLAGS.resume, progress=FLAGS.tqdm)
    relabelled, info = clue_run.label(clue_config, state, dataset, selection.dataset, run_dir,
                                      FLAGS.seed)
    uncalibrated = None
    if FLAGS.compare_uncalibrated and clue_config.calibrate:
        plain = clue_config.copy_and_resolve_references()
        plain.calibrate = False
        uncalibrated = clue_run.fit_cvae(plain, dataset, selection.dataset, FLAGS.seed, run_dir,
                                         resume=FLAGS.resume, progress=FLAGS.tqdm,
                                         name="cvae_uncalibrated.msgpack")
    info.update(clue_run.figures(state, dataset, selection.dataset, clue_config, run_dir,
                                 ground_truth, uncalibrated))
    print("[train_clue] rewards: " + ", ".join(f"{k} {v:.3f}" for k, v in info.items()))
    results, _ = pipeline.run_iql(relabelled, FLAGS.env_name, iql_config.to_dict(), loop, run_dir,
                               FLAGS.eval_episodes)
    results.update({"clue": info, "experts": selection.message})
    training.write_results(run_dir, results)
    print(f"[train_clue] {FLAGS.env_name} ({FLAGS.setting}, K={FLAGS.num_expert}) seed "
          f"{FLAGS.seed}: CLUE normalized score {results['final_normalized_score']} after "
          f"{loop.max_steps} IQL updates -> {run_dir}")


if __name__ == "__main__":
    app.run(main)
