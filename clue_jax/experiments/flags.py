"""Command-line flags of train_iql.py / train_clue.py, and FLAGS -> RunSettings (read once).

The reference IQL's flag names work unchanged (--env_name, --config, --seed,
--eval_episodes, --log_interval, --eval_interval, --batch_size, --max_steps,
--tqdm, --save_dir); --labeller picks the reward labeller, and --setting /
--num_expert mean the same for every labeller.
"""

from typing import Any, Dict

from absl import flags
from ml_collections import config_flags

from clue_jax.experiments.settings import EXPERT_SELECTIONS, SETTINGS, RunSettings
from clue_jax.rewards.labellers import LABELLERS

DEFAULT_ENV = "gen-pointmaze-umaze-diverse-v0"
LABELLER_CONFIG_FLAGS = {"clue": "clue_config", "otr": "otr_config"}


def define_flags(default_labeller: str) -> None:
    """Every flag of the training scripts; `default_labeller` is the script's own."""
    flags.DEFINE_string("env_name", DEFAULT_ENV, "Dataset / environment name.")
    flags.DEFINE_string("save_dir", "./tmp/", "Runs go to <save_dir>/<method>/<env_name>/seed_<seed>.")
    flags.DEFINE_integer("seed", 42, "Random seed (network init, batches, evaluation).")
    flags.DEFINE_integer("eval_episodes", 10, "Number of episodes per evaluation.")
    flags.DEFINE_integer("log_interval", 1000, "Logging interval (updates).")
    flags.DEFINE_integer("eval_interval", 5000, "Evaluation and checkpoint interval (updates).")
    flags.DEFINE_integer("batch_size", 256, "Mini batch size.")
    flags.DEFINE_integer("max_steps", None, "IQL updates; default: 1e6 (the reference), or the "
                         "generated dataset's budget (see README).")
    flags.DEFINE_boolean("tqdm", True, "Show progress bars.")
    flags.DEFINE_boolean("resume", False, "Continue the run in the run folder from its checkpoint.")
    flags.DEFINE_string("dataset_path", None, "Read the dataset from this HDF5 file.")
    flags.DEFINE_boolean("download", False, "Download a missing D4RL file into the D4RL cache.")
    flags.DEFINE_float("dataset_fraction", 1.0, "Seeded fraction of trajectories to keep (0, 1].")
    config_flags.DEFINE_config_file(
        "config", None, "IQL hyperparameter file; default: the reference config of the env's "
        "domain (configs/antmaze_config.py, mujoco_config.py or kitchen_config.py).",
        lock_config=False)
    flags.DEFINE_enum("labeller", default_labeller, sorted(LABELLERS),
                      "Reward labeller: true (the dataset's own rewards), clue, otr.")
    flags.DEFINE_enum("setting", "sparse", SETTINGS,
                      "sparse: the dataset's successful trajectories are the experts; imitation: "
                      "K trajectories of --expert_dataset, dataset rewards discarded; unsupervised "
                      "(clue): K-means clusters of (s, a, s') are the experts, one skill each.")
    flags.DEFINE_integer("num_expert", 1, "K: number of expert trajectories (at most K in sparse).")
    flags.DEFINE_string("expert_dataset", None, "Imitation: demonstrations (name or HDF5 path); "
                        "default for gen-* datasets: their own (gen-hopper-expert-demos-v0, ...).")
    flags.DEFINE_enum("expert_selection", "setting", EXPERT_SELECTIONS,
                      "setting: the setting's rule (a random successful episode / the first K "
                      "demonstrations); top_return: OTR's rule (the K best by return, on mazes "
                      "by return / distance of the start to the evaluation start).")
    flags.DEFINE_string("reward_file", None, "Train on rewards saved by an earlier run "
                        "(<run>/rewards.npz) instead of labelling.")
    flags.DEFINE_boolean("calibrate", True, "CLUE: use the calibration loss (Eq. 7); "
                         "--nocalibrate is the plain-CVAE ablation (paper Fig. 4).")
    flags.DEFINE_float("temperature", None, "CLUE: reward temperature c of Eq. 6.")
    flags.DEFINE_integer("cvae_steps", None, "CLUE: CVAE iterations (default: the CLUE config's).")
    flags.DEFINE_boolean("compare_uncalibrated", False, "CLUE: also train a CVAE without "
                         "calibration for the side-by-side latent figure.")
    flags.DEFINE_string("skills", "0,1,2", "Unsupervised: comma-separated cluster ids, or 'all'.")
    flags.DEFINE_integer("n_clusters", 100, "Unsupervised: K-means clusters (paper: 100).")
    config_flags.DEFINE_config_file("clue_config", None, "CLUE hyperparameters, e.g. "
                                    "configs/clue_config.py:antmaze (default: by domain).",
                                    lock_config=False)
    config_flags.DEFINE_config_file("otr_config", None, "OTR hyperparameters, e.g. "
                                    "configs/otr_config.py:locomotion (default: by domain).",
                                    lock_config=False)


def settings_from_flags(values: flags.FlagValues) -> RunSettings:
    """The run's frozen settings from the parsed flags."""
    labeller_config = None
    for name, flag in LABELLER_CONFIG_FLAGS.items():
        if values[flag].value is None:
            continue
        if name != values.labeller:
            raise ValueError(f"--{flag} applies to --labeller={name}, but --labeller="
                             f"{values.labeller}; drop --{flag} or pass --labeller={name}.")
        labeller_config = values[flag].value
    return RunSettings(
        env_name=values.env_name, labeller=values.labeller, setting=values.setting,
        num_expert=values.num_expert, expert_dataset=values.expert_dataset,
        expert_selection=values.expert_selection, seed=values.seed, save_dir=values.save_dir,
        max_steps=values.max_steps, batch_size=values.batch_size,
        log_interval=values.log_interval, eval_interval=values.eval_interval,
        eval_episodes=values.eval_episodes, progress=values.tqdm, resume=values.resume,
        dataset_path=values.dataset_path, download=values.download,
        dataset_fraction=values.dataset_fraction, iql_config=values.config,
        labeller_config=labeller_config, calibrate=values.calibrate,
        temperature=values.temperature, cvae_steps=values.cvae_steps,
        compare_uncalibrated=values.compare_uncalibrated, skills=values.skills,
        n_clusters=values.n_clusters, reward_file=values.reward_file)


def flag_dict(values: flags.FlagValues) -> Dict[str, Any]:
    """Every flag the training scripts define, as a dict for config.json."""
    own = {f.name for module in ("__main__", __name__) for f in
           values.get_flags_for_module(module)}
    return {name: values[name].value for name in sorted(own)
            if not hasattr(values[name].value, "to_dict")}
