"""A run's frozen settings: everything `run()` needs, built once from flags or code.

    settings = RunSettings(env_name="gen-pointmaze-large-diverse-v0", labeller="otr", seed=0)
    results = clue_jax.experiments.run(settings)

Configs left as None are resolved from the task's domain when the run starts
(the reference IQL config, the labeller's config); the ablation fields
(calibrate, temperature, cvae_steps, compare_uncalibrated) are applied on top
of the CLUE config. Nothing here reads absl FLAGS: `flags.settings_from_flags`
does that, once, in the scripts.
"""

import dataclasses
import math
from typing import List, Optional

import ml_collections

from clue_jax.evaluation import BACKENDS as EVAL_BACKENDS

SETTINGS = ("sparse", "imitation", "unsupervised")
# How the sparse/imitation experts are chosen: 'setting', the setting's own rule (sparse:
# SPARSE_EXPERTS; imitation: the first K demonstrations); 'episodes' (sparse): K random
# successful episodes; 'goal_segments' (sparse): K random successful segments of the
# episodes cut where the steered-to goal changes (the file's infos/goal, as D4RL's maze
# files and the generated mazes hold it); 'top_return': OTR's rule (the K best episodes by
# return; on maze domains by return / (1e-4 + ||start xy - eval start xy||)).
EXPERT_SELECTIONS = ("setting", "episodes", "goal_segments", "top_return")
# What 'setting' means in the sparse setting: OTR's rule, chosen by the CLUE sparse-setting
# study (README "Calibration on the generated mazes"): a calibrated CVAE makes the policy
# follow the expert's path, so the expert that starts where the evaluation starts serves best.
# The paper does not say how it picks its successful trajectory; 'episodes' was the default
# before 2026-11-30.
SPARSE_EXPERTS = "top_return"


class SettingsError(ValueError):
    """A setting outside its range; the message names the flag, what was expected and the fix."""


def parse_skills(text: str, n_clusters: int) -> List[int]:
    """--skills: 'all' or comma-separated cluster ids in [0, n_clusters) -> the ids."""
    if text.strip() == "all":
        return list(range(n_clusters))
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        ids = None
    if not ids or any(not 0 <= i < n_clusters for i in ids):
        raise SettingsError(f"--skills={text!r}: expected 'all' or comma-separated cluster ids "
                            f"in [0, {n_clusters}) (--n_clusters={n_clusters}), e.g. 0,1,2.")
    return ids


# field -> (check, what is expected)
_RANGES = {
    "seed": (lambda v: v >= 0, "an integer >= 0"),
    "num_expert": (lambda v: v >= 1, "K >= 1"),
    "max_steps": (lambda v: v is None or v > 0, "a number of updates > 0"),
    "batch_size": (lambda v: v is None or v > 0, "a batch size > 0"),
    "log_interval": (lambda v: v > 0, "an interval > 0 (updates)"),
    "eval_interval": (lambda v: v > 0, "an interval > 0 (updates)"),
    "eval_episodes": (lambda v: v >= 0, "a number of episodes >= 0"),
    "dataset_fraction": (lambda v: 0.0 < v <= 1.0, "a fraction in (0, 1]"),
    "temperature": (lambda v: v is None or v > 0, "a temperature c > 0"),
    "cvae_steps": (lambda v: v is None or v > 0, "a number of CVAE updates > 0"),
    "n_clusters": (lambda v: v >= 1, "a number of clusters >= 1"),
    "expert_block": (lambda v: v is None or v >= 0, "a number of trajectories >= 0"),
}


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """One run.

    Attributes:
        env_name: dataset / environment name.
        labeller: 'true', 'clue', 'otr' (clue_jax.rewards.labellers.LABELLERS).
        setting: 'sparse' (the dataset's successful trajectories are the experts,
            chosen by `expert_selection`),
            'imitation' (K demonstrations, dataset rewards discarded) or
            'unsupervised' (K-means clusters as experts; CLUE only).
        num_expert: K.
        expert_dataset: imitation demonstrations (a name or an HDF5 path);
            None: the generated dataset's own demonstrations.
        expert_selection: one of EXPERT_SELECTIONS.
        expert_block: N, the expert trajectories added to the offline data (the K
            demonstrations and the first N - K trajectories of the env's expert dataset,
            `domains.expert_source`); None: the learner's reference (ORIL's and SMODICE's
            script: 200, walker2d 100; others 0); 0: the dataset alone. The run-folder
            name does not show it: give such runs a --tag.
        seed, save_dir, max_steps (None: the domain's budget), batch_size (None:
        the agent's reference batch: 256, 512 for SMODICE and DemoDICE),
        log_interval, eval_interval, eval_episodes, progress, resume: the loop.
        resume_anyway: resume even where settings that change training differ from
            the stored ones (otherwise refused; the differences are recorded).
        dataset_path, download, dataset_fraction: where the data comes from.
        agent: the learner: 'iql', 'td3bc', 'smodice', 'demodice', 'valuedice',
            'iqlearn' (clue_jax.experiments.agents.AGENTS).
        agent_config, labeller_config: None = the domain's defaults.
        calibrate, temperature, cvae_steps, compare_uncalibrated: CLUE ablations.
        skills, n_clusters: the unsupervised setting.
        reward_file: train on rewards saved by an earlier run (rewards.npz) instead.
        tag: appended to the method's run-folder name ('-<tag>'), for ablations
            that change a labeller or learner config field (e.g. 'rr' for CLUE with
            --clue_config.reward_scaling=return_range).
        eval_backend: 'host' (envs stepped together on host threads) or 'reference'
            (each env through its own step), the same episodes; 'device' (MuJoCo XLA on
            the accelerator, locomotion only, other episodes) (evaluation.Evaluator).
        deadline: a wall-clock time (seconds since the epoch); training (IQL's loop and
            CLUE's CVAE) stops cleanly at the last checkpoint before it (resume later with
            --resume); OTR's and ORIL's labelling run to their end. None: no limit.
    """

    env_name: str = "gen-pointmaze-umaze-diverse-v0"
    labeller: str = "true"
    setting: str = "sparse"
    num_expert: int = 1
    expert_dataset: Optional[str] = None
    expert_selection: str = "setting"
    expert_block: Optional[int] = None
    seed: int = 42
    save_dir: str = "./tmp/"
    max_steps: Optional[int] = None
    batch_size: Optional[int] = None
    log_interval: int = 1000
    eval_interval: int = 5000
    eval_episodes: int = 10
    progress: bool = True
    resume: bool = False
    resume_anyway: bool = False
    dataset_path: Optional[str] = None
    download: bool = True
    dataset_fraction: float = 1.0
    agent: str = "iql"
    agent_config: Optional[ml_collections.FrozenConfigDict] = None
    labeller_config: Optional[ml_collections.FrozenConfigDict] = None
    calibrate: bool = True
    temperature: Optional[float] = None
    cvae_steps: Optional[int] = None
    compare_uncalibrated: bool = False
    skills: str = "0,1,2"
    n_clusters: int = 100
    reward_file: Optional[str] = None
    tag: str = ""
    eval_backend: str = "host"
    deadline: Optional[float] = None

    def __post_init__(self):
        for name, (ok, expected) in _RANGES.items():
            if not ok(getattr(self, name)):
                raise SettingsError(f"--{name}={getattr(self, name)}: expected {expected}; "
                                    f"pass a value in that range.")
        if self.resume_anyway and not self.resume:
            raise SettingsError("--resume_anyway continues a run whose settings changed; it "
                                "needs --resume (without it the old run would be moved aside "
                                "and a new one started). Pass --resume --resume_anyway.")
        if self.eval_interval % self.log_interval and self.log_interval % self.eval_interval:
            raise SettingsError(
                f"--log_interval={self.log_interval} and --eval_interval={self.eval_interval}: "
                "expected one to divide the other (updates run in fused chunks of their "
                f"greatest common divisor, here {math.gcd(self.log_interval, self.eval_interval)}"
                " update(s), which makes training slower); e.g. --eval_interval="
                f"{self.log_interval * max(1, round(self.eval_interval / self.log_interval))}.")
        if self.n_clusters >= 1:
            parse_skills(self.skills, self.n_clusters)
        if self.eval_backend not in EVAL_BACKENDS:
            raise SettingsError(f"--eval_backend={self.eval_backend!r}: expected one of "
                                f"{EVAL_BACKENDS}.")
        if self.setting not in SETTINGS:
            raise SettingsError(f"--setting={self.setting!r}: expected one of {SETTINGS}.")
        if self.expert_selection not in EXPERT_SELECTIONS:
            raise SettingsError(f"--expert_selection={self.expert_selection!r}: expected one of "
                             f"{EXPERT_SELECTIONS}.")
        if self.tag and not all(c.isalnum() or c in "-_." for c in self.tag):
            raise SettingsError(f"--tag={self.tag!r}: expected letters, digits, '-', '_' or '.' "
                                "(it becomes part of the run-folder name).")
        if self.expert_selection in ("episodes", "goal_segments") and self.setting != "sparse":
            raise SettingsError(f"--expert_selection={self.expert_selection} picks successful "
                                "episodes of the dataset itself: it needs --setting=sparse "
                                "(imitation: 'setting' or top_return).")
        for name in ("agent_config", "labeller_config"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ml_collections.FrozenConfigDict):
                object.__setattr__(self, name, ml_collections.FrozenConfigDict(value))

    def expert_rule(self) -> str:
        """The expert rule this run uses: 'setting' resolved (sparse: SPARSE_EXPERTS)."""
        if self.expert_selection != "setting":
            return self.expert_selection
        return SPARSE_EXPERTS if self.setting == "sparse" else self.setting

    def method(self) -> str:
        name = self._method()
        return f"{name}-{self.tag}" if self.tag else name

    def _method(self) -> str:
        """The run-folder name of the method: it names the labeller.

        '<agent>-true' (a learner on the dataset's own rewards), else
        '<labeller>-<setting>-K<k>' (+ '-nocalib' for CLUE without calibration,
        '-<rule>' for an expert rule given explicitly (--expert_selection other than
        'setting'), '-<tag>'), prefixed with '<agent>-' for learners other than IQL
        (e.g. 'td3bc-sqil-imitation-K1', 'smodice-oril-imitation-K1'; not when the learner
        is named after its labeller: 'oril-imitation-K1');
        '<agent>-<setting>-K<k>' for the learners without a labeller ('demodice-imitation-K1').
        """
        if self.labeller == "true":
            return f"{self.agent}-true"
        if self.labeller == "none":  # an imitation learner: the agent names the method
            return f"{self.agent}-{self.setting}-K{self.num_expert}" + (
                "" if self.expert_selection == "setting" else f"-{self.expert_selection}")
        name = f"{self.labeller}-{self.setting}"
        if self.setting != "unsupervised":
            name += f"-K{self.num_expert}"
        if self.labeller == "clue" and not self.calibrate:
            name += "-nocalib"
        if self.expert_selection != "setting":
            name += f"-{self.expert_selection}"
        return name if self.agent in ("iql", self.labeller) else f"{self.agent}-{name}"

    def to_dict(self) -> dict:
        """JSON-ready dict (configs as plain dicts) for config.json."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return out


# A plan file: the settings of the runs one program trains, written by reproduce.py for each
# program it starts (`train_iql.py --plan_file=<out>/plans/<program>.json`) and read back
# exactly: the same values and types (tuples stay tuples, lists lists, configs configs).
PLAN_FORMAT = "clue-jax plan 1"


def _encode(value):
    if isinstance(value, ml_collections.FrozenConfigDict):
        value = value.as_configdict()  # its lists are lists again
    if isinstance(value, ml_collections.ConfigDict):
        return {"config": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, dict):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a plan file holds JSON values, tuples and configs, not {value!r}")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    (kind, inner), = value.items()
    if kind == "tuple":
        return tuple(_decode(v) for v in inner)
    decoded = {k: _decode(v) for k, v in inner.items()}
    return ml_collections.ConfigDict(decoded) if kind == "config" else decoded


def write_plan_file(path, runs: List[RunSettings], commands: Optional[List[List[str]]] = None
                    ) -> None:
    """Write `runs` (and, for the reader, the command line each equals) to `path`."""
    import json
    from pathlib import Path
    record = {"format": PLAN_FORMAT,
              "runs": [{f.name: _encode(getattr(s, f.name)) for f in dataclasses.fields(s)}
                       for s in runs]}
    if commands is not None:
        record["commands"] = [" ".join(c) for c in commands]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)


def read_plan_file(path) -> List[RunSettings]:
    """The settings `write_plan_file` wrote; SettingsError naming --plan_file otherwise."""
    import json
    from pathlib import Path
    fix = "pass a file reproduce.py wrote (<out>/plans/*.json) or rerun reproduce.py."
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SettingsError(f"--plan_file={path}: cannot read it as JSON ({err}); {fix}") from None
    if not (isinstance(record, dict) and record.get("format") == PLAN_FORMAT
            and isinstance(record.get("runs"), list) and record["runs"]):
        raise SettingsError(f"--plan_file={path}: expected a plan file ({{'format': "
                            f"{PLAN_FORMAT!r}, 'runs': [settings, ...]}}); {fix}")
    names = {f.name for f in dataclasses.fields(RunSettings)}
    runs = []
    for i, fields in enumerate(record["runs"]):
        unknown = sorted(set(fields) - names) if isinstance(fields, dict) else ["(not a dict)"]
        if unknown:
            raise SettingsError(f"--plan_file={path}: run {i} has unknown settings {unknown}; "
                                f"{fix}")
        runs.append(RunSettings(**{k: _decode(v) for k, v in fields.items()}))
    return runs
