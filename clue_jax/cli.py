"""Command-line flags shared by train_iql.py and train_clue.py (the reference's names)."""

from typing import Any, Dict

from absl import flags
from ml_collections import config_flags

DEFAULT_ENV = "gen-pointmaze-umaze-diverse-v0"


def define_run_flags() -> None:
    """The reference's flags plus dataset options, resume and the IQL --config file."""
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


def flag_dict(values: flags.FlagValues) -> Dict[str, Any]:
    """Every flag the training scripts define, as a dict for config.json."""
    own = {name for module in ("__main__", __name__) for f in
           values.get_flags_for_module(module) for name in [f.name]}
    return {name: values[name].value for name in sorted(own)
            if not hasattr(values[name].value, "to_dict")}
