"""The labeller seam's types: LabelRequest -> Labels, and the Labeller record.

See clue_jax/rewards/labellers.py for the registry and the seam's contract.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import ml_collections
import numpy as np

from clue_jax import rules
from clue_jax.data.dataset import Dataset
from clue_jax.rewards import storage

REWARD_FILE = "rewards.npz"


@dataclasses.dataclass(frozen=True)
class LabelRequest:
    """What a labeller gets.

    Attributes:
        dataset: the N transitions to label (sparse setting: their own 0/1
            rewards; imitation: rewards discarded, NaN).
        expert: the chosen expert trajectories (None for labellers without experts).
        config: the labeller's config (e.g. configs/clue_config.py's).
        seed: the run's seed.
        run_dir: where the labeller saves rewards.npz, models and figures.
        resume: reuse what an earlier attempt of this run saved.
        progress: show progress bars.
        ground_truth: (N,) true rewards for figures (sparse setting), else None.
        title: what the run is, for figure titles (e.g. 'clue-sparse-K1 on
            gen-pointmaze-large-diverse-v0, seed 0').
        env_name: the run's dataset name (--env_name).
        deadline: the run's wall-clock deadline (time.time()) or None; a labeller with
            checkpoints stops at one before it (timing.StoppedAtDeadline; CLUE's CVAE),
            one without (OTR) runs to its end.
    """

    dataset: Dataset
    expert: Optional[Dataset]
    config: ml_collections.ConfigDict
    seed: int
    run_dir: Path
    resume: bool = False
    progress: bool = True
    ground_truth: Optional[np.ndarray] = None
    title: str = ""
    env_name: str = ""
    absorbing: bool = False
    deadline: Optional[float] = None


class Labels(NamedTuple):
    """A labeller's output: rewards (N,) float32 ready for the learner, and summary numbers.

    `expert_data`, when set, is a second labelled source the learner samples beside
    the dataset, an equal number of rows from each per batch (SQIL's batch).
    """

    rewards: np.ndarray
    info: Dict[str, Any]
    expert_data: Optional[Dataset] = None


@dataclasses.dataclass(frozen=True)
class Labeller:
    """A registered labeller.

    Attributes:
        name: the --labeller value.
        needs_experts: whether `label` reads `request.expert`.
        default_config: domain -> config. The domain has `labeller_domain`,
            `reward_scaling` and `reward_shift` (clue_jax.experiments.domains.Domain).
        label: LabelRequest -> Labels.
        label_seeds: optional; several seeds' requests (one dataset, settings equal
            but the seed) -> their Labels, sharing the seed-independent work and
            vmapping the rest (CLUE: one vmapped CVAE training). Each seed's Labels
            and files are `label`'s for that request. Without it, `label` runs per seed.
        config_rules: field -> (check, what is expected) for the config
            (clue_jax.rules); a run whose resolved config breaks one is
            refused before any run folder exists.
        config_file: its config file (under configs/, or a path), which gives the
            scripts a `--<name>_config` flag (`--<name>_config.<field>=...` alone loads
            this file); None: no config flag.
        config_by_domain: the file's get_config takes an argument from the dataset's
            domain, `<file>:<key>`: by default its labeller domain ('antmaze',
            'pointmaze', 'locomotion', 'adroit').
        config_key: optional; domain -> the key after the colon, where it is not the
            labeller domain (the constant labeller's: the domain's reward shift).
        config_key_name: what the key is, for the flag's help ('domain').
        own_flags: flags only this labeller reads (reproduce.py gives them to its cells
            only), e.g. CLUE's ('--cvae_steps', '--temperature').
        requires: optional; imports what `label` needs beyond the project's core (OTR:
            ott-jax, imported lazily). The run checks call it before any data is read or
            folder made; an ImportError there refuses the run with its message.
        preflight: optional; (config, env_name, seed, fingerprint) -> None, the checks
            that need the run's dataset name and seed (the constant labeller's
            `level_from`): called when the run is planned (fingerprint None) and again,
            with the data's fingerprint (`records.fingerprint`), once the data is read,
            both before any run folder exists; raises a ValueError naming the flag.
        labelling_fields: config fields that change only how a trained model labels, not
            the model (CLUE: the temperature c, ...). Runs of one dataset that differ only
            in them reach one `label_all` call, each request with its own config, so a
            labeller with `label_seeds` can train their shared model once (CLUE: one CVAE
            per seed and expert set for a whole sweep of c).
    """

    name: str
    needs_experts: bool
    default_config: Callable[[Any], ml_collections.ConfigDict]
    label: Callable[[LabelRequest], Labels]
    label_seeds: Optional[Callable[[List[LabelRequest]], List[Labels]]] = None
    config_rules: Optional[rules.Rules] = None
    config_file: Optional[str] = None
    config_by_domain: bool = False
    config_key: Optional[Callable[[Any], str]] = None
    config_key_name: str = "domain"
    own_flags: Tuple[str, ...] = ()
    requires: Optional[Callable[[], Any]] = None
    preflight: Optional[Callable[[ml_collections.ConfigDict, str, int, Optional[str]], None]] = None
    labelling_fields: Tuple[str, ...] = ()

    @property
    def config_flag(self) -> Optional[str]:
        """'<name>_config', the scripts' flag for its config file, or None."""
        return f"{self.name}_config" if self.config_file else None

    def sets_labelling_field(self, flag: str) -> bool:
        """Whether a command-line flag of this labeller's runs sets one of its
        `labelling_fields` and nothing else ('--temperature=3',
        '--clue_config.use_mean=False'): runs that differ only in such flags share a model."""
        name = flag.lstrip("-").split("=")[0]
        if self.config_flag and name.startswith(self.config_flag + "."):
            name = name[len(self.config_flag) + 1:]
        elif f"--{name}" not in self.own_flags:
            return False
        return name in self.labelling_fields

    def config_file_key(self, domain) -> str:
        """What follows the colon in `<config_file>:<key>` for `domain`."""
        return self.config_key(domain) if self.config_key else domain.labeller_domain

    def label_all(self, requests: List[LabelRequest]) -> List[Labels]:
        """Labels for each request: `label_seeds` where the labeller has it, else `label`."""
        if self.label_seeds is not None:
            return self.label_seeds(requests)
        return [self.label(request) for request in requests]


def saved_rewards(request: LabelRequest) -> Optional[Labels]:
    """The rewards an earlier attempt of this run saved, when resuming (checksum-checked)."""
    path = Path(request.run_dir) / REWARD_FILE
    if not (request.resume and path.exists()):
        return None
    rewards = storage.load_rewards(path, request.dataset)
    with np.load(path, allow_pickle=False) as f:
        info = json.loads(str(f["metadata"]))
    print(f"[clue_jax] rewards restored from {path}")
    return Labels(rewards, info)
