"""Command-line flags of train_iql.py / train_clue.py, and FLAGS -> RunSettings (read once).

The reference IQL's flag names work unchanged (--env_name, --config, --seed,
--eval_episodes, --log_interval, --eval_interval, --batch_size, --max_steps,
--tqdm, --save_dir); --labeller picks the reward labeller, and --setting /
--num_expert mean the same for every labeller.
"""

import errno
import functools
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from absl import flags
from ml_collections import config_flags

from clue_jax import experiments, interrupts, training
from clue_jax.locks import RunFolderBusy
from clue_jax.data.d4rl_io import DatasetNotFoundError
from clue_jax.data.dataset import DatasetError
from clue_jax.data.download import DownloadError
from clue_jax.envs import registry
from clue_jax.envs.registry import UnknownEnvError, UnmeasuredScoreError
from clue_jax.experiments import domains, plugins, settings as settings_lib
from clue_jax.experiments.agents import AGENTS
from clue_jax.experiments.settings import (EVAL_BACKENDS, EXPERT_SELECTIONS, SETTINGS,
                                           SPARSE_EXPERTS, RunSettings, SettingsError)
from clue_jax.rewards.labellers import LABELLERS
from clue_jax.rewards.storage import RewardFileError

# Errors a user can act on: printed as one message (no traceback), exit status 1.
EXPECTED_ERRORS = (SettingsError, DatasetError, DatasetNotFoundError, DownloadError,
                   UnknownEnvError, UnmeasuredScoreError, RewardFileError,
                   training.DivergenceError, training.SeedsOutOfStepError, RunFolderBusy,
                   PermissionError)

DEFAULT_ENV = "gen-pointmaze-umaze-diverse-v0"


def labeller_config_flags() -> Dict[str, str]:
    """labeller -> its config flag ('<name>_config'), for every registered labeller that
    declares a config file (plugins' included)."""
    return {name: lab.config_flag for name, lab in LABELLERS.items() if lab.config_flag}


def config_file_flags() -> tuple:
    """Every config-file flag: the learner's `--config`, then each labeller's."""
    return ("config",) + tuple(labeller_config_flags().values())


def labeller_config_file(name: str, domain: Optional[domains.Domain] = None) -> str:
    """The path of labeller `name`'s config file (+ ':<labeller domain>' where it takes one)."""
    lab = LABELLERS[name]
    path = Path(lab.config_file)
    path = path if path.is_absolute() else _CONFIGS / path
    return f"{path}:{lab.config_file_key(domain)}" if lab.config_by_domain and domain else str(path)


_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _argv_value(argv: List[str], name: str) -> Optional[str]:
    """The last value given to --name (as --name=v or --name v) in argv, else None."""
    value = None
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(argv):
            value = argv[i + 1]
    return value


def implied_config_files(argv: List[str], default_agent: str) -> Dict[str, str]:
    """The config file of each `--<flag>.<field>=...` given without `--<flag>=<file>`: the
    file the run uses by default (the agent's, or the domain's for IQL and the labellers),
    so that e.g. `--config.expectile=0.8` works on its own."""
    wanted = [f for f in config_file_flags()
              if any(a.startswith(f"--{f}.") for a in argv)
              and _argv_value(argv, f) is None]
    if not wanted:
        return {}
    agent = _argv_value(argv, "agent") or _argv_value(argv, "algo") or default_agent
    try:
        domain = domains.domain_of(registry.get_spec(_argv_value(argv, "env_name")
                                                     or DEFAULT_ENV))
    except UnknownEnvError:
        return {}  # the run reports the unknown name itself
    env_name = _argv_value(argv, "env_name") or DEFAULT_ENV
    spec = AGENTS.get(agent)
    if agent == "iql":
        agent_file = f"{_CONFIGS}/{domain.iql_config}_config.py"
    else:
        agent_file = str(_CONFIGS / (spec.config_file if spec else f"{agent}_config.py")) + (
            f":{env_name}" if spec is not None and spec.env_config else "")
    files = {"config": agent_file,
             **{flag: labeller_config_file(name, domain)
                for name, flag in labeller_config_flags().items()}}
    return {f: files[f] for f in wanted}


def define_flags(default_labeller: str, flag_values: flags.FlagValues = flags.FLAGS,
                 argv: Optional[List[str]] = None, default_agent: str = "iql",
                 default_setting: str = "sparse") -> None:
    """Every flag of the training scripts; `default_labeller` / `default_agent` are the script's.

    `flag_values`, `argv`: where to define them and the command line the config
    files' `--<config>.<field>` overrides are read from (default sys.argv); a
    fresh FlagValues parses a command line in process (reproduce.py --in_process).
    """
    try:
        plugins.load_plugins()  # their labellers and learners join the choices below
    except plugins.PluginError as err:
        if flag_values is flags.FLAGS:  # a script being set up: one line, exit status 1
            sys.exit(f"{Path(sys.argv[0]).name}: error: {err}")
        raise SettingsError(str(err)) from None
    string, integer, boolean, float_, enum = (
        functools.partial(define, flag_values=flag_values) for define in (
            flags.DEFINE_string, flags.DEFINE_integer, flags.DEFINE_boolean, flags.DEFINE_float,
            flags.DEFINE_enum))
    implied = implied_config_files(list(sys.argv if argv is None else argv), default_agent)

    def config_file(name, default, help_text, **kwargs):
        default = implied.get(name, default)
        try:
            config_flags.DEFINE_config_file(name, default, help_text, flag_values=flag_values,
                                            sys_argv=argv, **kwargs)
        except (AttributeError, KeyError, TypeError) as err:  # an unknown --<name>.<field>
            probe = flags.FlagValues()
            config_flags.DEFINE_config_file(name, default, flag_values=probe,
                                            sys_argv=["probe"], **kwargs)
            probe(["probe"])
            message = unknown_config_field(list(sys.argv if argv is None else argv), probe) \
                or f"--{name}: {err}"
            if flag_values is flags.FLAGS:  # a script being set up: one line, exit status 1
                sys.exit(f"{Path(sys.argv[0]).name}: error: {message}")
            raise SettingsError(message) from None

    string("env_name", DEFAULT_ENV, "Dataset / environment name.")
    string("save_dir", "./tmp/", "Runs go to <save_dir>/<method>/<env_name>/seed_<seed>.")
    integer("seed", 42, "Random seed (network init, batches, evaluation).")
    string("seeds", None, "Several seeds trained as one vmapped program ('0,1,2' or '0-9'), "
           "each in its own run folder, as separate --seed runs would be; sharded over the "
           "devices when there are several. Overrides --seed.")
    integer("eval_episodes", 10, "Number of episodes per evaluation.")
    integer("log_interval", 1000, "Logging interval (updates).")
    integer("eval_interval", 5000, "Evaluation and checkpoint interval (updates).")
    integer("batch_size", None, "Mini batch size (rows per source); default: the learner's "
            "reference value (256; SMODICE and DemoDICE 512).")
    integer("max_steps", None, "Learner updates; default: 1e6 (the reference), or the "
                         "generated dataset's budget (see README).")
    boolean("tqdm", True, "Show progress bars.")
    enum("eval_backend", "host", list(EVAL_BACKENDS),
         "Evaluation envs: host (made once per run, MuJoCo stepped on host threads, the rest "
         "vectorized) or reference (each env through its own step), the same episodes; or "
         "device (locomotion only: whole episodes on the accelerator with MuJoCo XLA, float32 "
         "physics, so other episodes; pip install -e '.[mjx]').")
    float_("time_limit", None, "Stop cleanly at the last checkpoint before this many seconds "
           "have passed (exit status 3; rerun with --resume to continue).")
    float_("deadline", None, "As --time_limit, as a wall-clock time (seconds since the epoch; "
           "reproduce.py gives every run of a grid the same one).")
    string("plan_file", None, "Run the runs whose settings this plan file holds (reproduce.py "
           "writes one per program it starts: <out>/plans/*.json); several runs of one dataset "
           "train as one program (agents stacked and vmapped, evaluations stepped together). "
           "The file decides every setting: other flags are refused.")
    boolean("resume", False, "Continue the run in the run folder from its checkpoint "
            "(refused when a setting that changes training differs from the stored one).")
    boolean("resume_anyway", False, "With --resume: continue even with changed settings; the "
            "differences are recorded in <run>/resume_overrides.json.")
    string("dataset_path", None, "Read the dataset from this HDF5 file.")
    boolean("download", True, "Download a missing D4RL file into D4RL's cache on first use, "
            "as d4rl does (--nodownload, or $CLUE_JAX_OFFLINE=1: never download).")
    float_("dataset_fraction", 1.0, "Seeded fraction of trajectories to keep (0, 1].")
    config_file(
        "config", None, "The learner's hyperparameter file; default for IQL: the reference "
        "config of the env's domain (configs/antmaze_config.py, mujoco_config.py or "
        "kitchen_config.py); for TD3+BC configs/td3bc_config.py.",
        lock_config=False)
    enum("agent", default_agent, sorted(AGENTS), "Learner: " + ", ".join(sorted(AGENTS)) + ".")
    enum("labeller", default_labeller, sorted(LABELLERS),
                      "Reward labeller: true (the dataset's own rewards), clue, otr, oril, sqil; "
                      "none for the imitation learners demodice, valuedice, iqlearn. Not given: "
                      "the learner's own where it has one (--agent=oril, smodice: oril; "
                      "demodice, valuedice, iqlearn: none), else the script's default.")
    enum("setting", default_setting, SETTINGS,
                      "sparse: the dataset's successful trajectories are the experts; imitation: "
                      "K trajectories of --expert_dataset, dataset rewards discarded; unsupervised "
                      "(clue): K-means clusters of (s, a, s') are the experts, one skill each.")
    integer("num_expert", 1, "K: number of expert trajectories (at most K in sparse).")
    string("expert_dataset", None, "Imitation: demonstrations (name or HDF5 path); "
                        "default for gen-* datasets: their own (gen-hopper-expert-demos-v0, ...).")
    enum("expert_selection", "setting", EXPERT_SELECTIONS,
                      "setting: the setting's rule (sparse: "
                      f"{SPARSE_EXPERTS}; imitation: the first K "
                      "demonstrations); episodes (sparse): K random successful episodes; "
                      "goal_segments (sparse): K random successful segments of the episodes "
                      "cut where the steered-to goal (infos/goal) changes; top_return: OTR's "
                      "rule (the K best by return, on mazes by return / distance of the start "
                      "to the evaluation start).")
    integer("expert_block", None, "N expert trajectories added to the offline data: the K "
            "demonstrations and the first N - K trajectories of the env's expert dataset "
            "(gen-<env>-expert-v0, D4RL <env>-expert-v2), the first N where no "
            "demonstrations join the data (the true rewards; the sparse setting's experts "
            "are the dataset's own); default: the learner's reference (ORIL and SMODICE: "
            "200, walker2d 100, as SMODICE's script; others 0); 0: the dataset alone. Not "
            "in the run-folder name: use --tag.")
    string("tag", "", "Appended to the method's run-folder name ('<method>-<tag>'), for "
           "ablations that change a config field.")
    string("reward_file", None, "Train on rewards saved by an earlier run "
                        "(<run>/rewards.npz) instead of labelling.")
    boolean("calibrate", True, "CLUE: use the calibration loss (Eq. 7); "
                         "--nocalibrate is the plain-CVAE ablation (paper Fig. 4).")
    float_("temperature", None, "CLUE: reward temperature c of Eq. 6.")
    integer("cvae_steps", None, "CLUE: CVAE iterations (default: the CLUE config's).")
    boolean("compare_uncalibrated", False, "CLUE: also train a CVAE without "
                         "calibration for the side-by-side latent figure.")
    string("skills", "0,1,2", "Unsupervised: comma-separated cluster ids, or 'all'.")
    integer("n_clusters", 100, "Unsupervised: K-means clusters (paper: 100).")
    for name, flag in labeller_config_flags().items():
        lab = LABELLERS[name]
        key = lab.config_key_name
        example = Path(labeller_config_file(name)).name + (f":<{key}>" if lab.config_by_domain
                                                           else "")
        config_file(flag, None, f"--labeller={name}'s hyperparameters: configs/{example}"
                    + (f" (default: the dataset's {key})." if lab.config_by_domain else "."),
                    lock_config=False)


def settings_from_flags(values: flags.FlagValues) -> RunSettings:
    """The run's frozen settings from the parsed flags."""
    labeller = values.labeller
    if not values["labeller"].present and AGENTS[values.agent].labellers:
        labeller = AGENTS[values.agent].labellers[0]  # e.g. --agent=oril: its discriminator
    labeller_config = None
    for name, flag in labeller_config_flags().items():
        if values[flag].value is None:
            continue
        if name != labeller:
            raise SettingsError(f"--{flag} applies to --labeller={name}, but --labeller="
                             f"{labeller}; drop --{flag} or pass --labeller={name}.")
        labeller_config = values[flag].value
    return RunSettings(
        env_name=values.env_name, labeller=labeller, setting=values.setting,
        num_expert=values.num_expert, expert_dataset=values.expert_dataset,
        expert_selection=values.expert_selection, expert_block=values.expert_block,
        seed=values.seed, save_dir=values.save_dir,
        max_steps=values.max_steps, batch_size=values.batch_size,
        log_interval=values.log_interval, eval_interval=values.eval_interval,
        eval_episodes=values.eval_episodes, progress=values.tqdm, resume=values.resume,
        resume_anyway=values.resume_anyway,
        dataset_path=values.dataset_path, download=values.download,
        dataset_fraction=values.dataset_fraction, agent=values.agent,
        agent_config=values.config,
        labeller_config=labeller_config, calibrate=values.calibrate,
        temperature=values.temperature, cvae_steps=values.cvae_steps,
        compare_uncalibrated=values.compare_uncalibrated, skills=values.skills,
        n_clusters=values.n_clusters, reward_file=values.reward_file, tag=values.tag,
        eval_backend=values.eval_backend, deadline=_deadline(values))


def _deadline(values: flags.FlagValues) -> Optional[float]:
    """--deadline, or now + --time_limit (the earlier when both are given)."""
    import time
    limits = [values.deadline] if values.deadline is not None else []
    if values.time_limit is not None:
        if values.time_limit <= 0:
            raise SettingsError(f"--time_limit={values.time_limit}: expected seconds > 0.")
        limits.append(time.time() + values.time_limit)
    return min(limits) if limits else None


def flag_dict(values: flags.FlagValues) -> Dict[str, Any]:
    """Every flag the training scripts define, as a dict for config.json."""
    own = {f.name for module in ("__main__", __name__) for f in
           values.get_flags_for_module(module)}
    return {name: values[name].value for name in sorted(own)
            if not hasattr(values[name].value, "to_dict")}


def parse_flags(argv: List[str]) -> List[str]:
    """absl's flag parsing for app.run, every flag error reported as one line and exit status
    1, not a traceback: an unknown `--<config>.<field>` (the flag, the fields that exist, the
    fix), a config file whose get_config refused its key (the flag and the file's message)."""
    try:
        rest = flags.FLAGS(argv)
    except (AttributeError, KeyError, TypeError):
        message = unknown_config_field(argv, flags.FLAGS)
        if message is None:
            raise
        sys.exit(f"{Path(argv[0]).name}: error: {message}")
    except flags.Error as err:
        sys.exit(f"{Path(argv[0]).name}: error: {flag_error_line(err)} (--helpfull lists "
                 "the flags)")
    for name in config_file_flags():  # a config file that cannot be loaded: one line, not a traceback
        if name not in flags.FLAGS:
            continue
        try:  # a config that failed to load raises on its first attribute access
            getattr(flags.FLAGS[name].value, "keys", None)
        except OSError as err:
            reason = [line.strip() for line in str(err).splitlines() if line.strip()][-1]
            sys.exit(f"{Path(argv[0]).name}: error: --{name}={_argv_value(argv, name)}: cannot "
                     f"load it ({reason}); pass an existing config file, e.g. "
                     "--config=configs/mujoco_config.py or --clue_config="
                     "configs/clue_config.py:antmaze.")
    return rest


def flag_error_line(err: Exception) -> str:
    """absl's flag error as one line: its first line (the flag and its value) and, where a
    config file failed to load, the last line of that file's traceback (its own message)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return f"{lines[0].rstrip(':')}: {lines[-1]}"


def unknown_config_field(argv: List[str], values: flags.FlagValues) -> Optional[str]:
    """The message for the first `--<config>.<path>` override whose field does not exist."""
    for arg in argv[1:]:
        name, _, path = arg.lstrip("-").split("=", 1)[0].partition(".")
        if not path or name not in values:
            continue
        node = values[name].value
        if node is None:  # not loaded yet: load the file the command line names
            file = _argv_value(argv, name)
            if file is None:
                continue
            probe = flags.FlagValues()
            config_flags.DEFINE_config_file(name, file, flag_values=probe, sys_argv=["probe"],
                                            lock_config=False)
            probe(["probe"])
            node = probe[name].value
        if not hasattr(node, "keys"):
            continue
        for part in path.split("."):
            if hasattr(node, "keys") and part in node.keys():
                node = node[part]
                continue
            if not hasattr(node, "keys"):
                return (f"--{name}.{path}: {path.rsplit('.', 1)[0]!r} is a value "
                        f"({node!r}), not a group of fields; pass --{name}."
                        f"{path.rsplit('.', 1)[0]}=<value>.")
            return (f"--{name}.{path}: the config has no field {part!r}; its fields are "
                    f"{sorted(node.keys())}. Fix the name (see --{name}=<file> for the file).")
    return None


def parse_seeds(text: str) -> List[int]:
    """'0,1,2' or '0-9' (inclusive) -> seeds; SettingsError naming --seeds otherwise."""
    try:
        if "-" in text and "," not in text:
            first, last = (int(v) for v in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise SettingsError(f"--seeds={text}: expected seeds >= 0 as '0,1,2' or a range '0-9'.")
    return seeds


def run_from_flags(values: flags.FlagValues, program: str) -> Dict[str, Any]:
    """The scripts' main: settings from flags, then the run; expected errors exit cleanly."""
    # JAX logs an INFO line for every backend it cannot open (e.g. 'tpu' on any CPU/GPU host).
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    try:
        interrupts.arm()  # a Ctrl-C during the imports ends the run here
        if values.plan_file:
            runs = read_plan_file(values)
            if len(runs) == 1:
                return experiments.run(runs[0])
            return {"runs": experiments.run_group(runs)}
        settings = settings_from_flags(values)
        if values.seeds:
            return {"runs": experiments.run_seeds(settings, parse_seeds(values.seeds))}
        return experiments.run(settings)
    except training.StoppedAtDeadline as err:
        print(f"{program}: {err}", file=sys.stderr)
        sys.exit(STOPPED_EXIT)
    except KeyboardInterrupt:
        print(f"{program}: interrupted. Every run keeps its last checkpoint (written at each "
              "evaluation); rerun the same command with --resume to continue.", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
    except EXPECTED_ERRORS as err:
        sys.exit(f"{program}: error: {err}")
    except OSError as err:  # the disk or the folder, not the code
        if err.errno not in USER_OS_ERRORS:
            raise
        sys.exit(f"{program}: error: {err.filename or values.save_dir}: {err.strerror}. "
                 "Free space or pick another --save_dir; rerun with --resume to continue "
                 "from the last checkpoint.")


# OSErrors a user fixes (disk full, quota, read-only or unwritable folder): one line.
USER_OS_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
STOPPED_EXIT = 3  # exit status of a run stopped cleanly at its --time_limit / --deadline
INTERRUPTED_EXIT = 130  # Ctrl-C (SIGINT), as a shell reports it


def read_plan_file(values: flags.FlagValues) -> List[RunSettings]:
    """--plan_file's runs; SettingsError when another run flag is given beside it (the
    file decides every setting)."""
    own = {f.name for f in values.get_flags_for_module(__name__)}
    given = sorted(name for name in own | set(config_file_flags())
                   if name in values and values[name].present and name != "plan_file")
    if given:
        raise SettingsError(f"--plan_file={values.plan_file} holds every setting of its runs, "
                            f"but --{given[0]} was given too; drop it (or run without "
                            "--plan_file).")
    return settings_lib.read_plan_file(values.plan_file)


def parse_settings(argv: List[str], default_labeller: str = "true",
                   default_agent: str = "iql") -> RunSettings:
    """RunSettings from a train_iql.py command line (argv[0] is the program), in process."""
    values = flags.FlagValues()
    define_flags(default_labeller, values, argv, default_agent)
    values(argv)
    return settings_from_flags(values)
