"""One run's plan: its settings resolved once into everything the run does, frozen.

    plan = make_plan(settings)   # every input checked; no data read, no folder made
    plan.agent_config            # the learner's config, resolved (FrozenConfigDict)
    plan.labeller_config         # the labeller's, CLUE's ablation fields applied
    plan.loop                    # training.LoopConfig: updates, batch, intervals, deadline
    plan.experts                 # ExpertChoice: which experts, from where, the expert block
    plan.run_dir, plan.method    # <save_dir>/<method>/<env_name>/seed_<seed>
    plan.record(dataset_size)    # what config.json holds (compared on --resume)

The stages after it (`group.run_group`, `runner.label_seeds`, `skills.run`) read the
plan and never resolve a config again. Where a config comes from: the settings' own
(`--config`, `--<labeller>_config` and their field overrides), else the learner's
reference for the dataset (`AgentSpec.env_config`) or its domain, else the labeller's
domain config; `true` rewards are processed as the learner's reference does.
"""

import dataclasses
from pathlib import Path
from typing import Any, Dict, Optional

import ml_collections

from clue_jax import training
from clue_jax.envs import registry
from clue_jax.experiments import checks, domains
from clue_jax.experiments.agents import AGENTS
from clue_jax.experiments.settings import RunSettings, SettingsError
from clue_jax.rewards import labellers


@dataclasses.dataclass(frozen=True)
class ExpertChoice:
    """Where a run's experts come from.

    Attributes:
        setting, num_expert: the setting and K.
        rule: the expert rule (`RunSettings.expert_rule`: 'setting' resolved).
        demonstrations: the imitation setting's demonstrations (a dataset name or an HDF5
            file); None in the other settings.
        block: N, the expert trajectories added to the offline data beside the K
            demonstrations (0: none; `RunSettings.expert_block` or the learner's reference).
        block_source: the expert dataset the block is read from (None when block is 0).
    """

    setting: str
    num_expert: int
    rule: str
    demonstrations: Optional[str]
    block: int
    block_source: Optional[str]


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """Everything one run does, resolved once from its settings (see the module docstring)."""

    settings: RunSettings
    domain: domains.Domain
    method: str
    run_dir: Path
    agent_config: ml_collections.FrozenConfigDict
    labeller_config: ml_collections.FrozenConfigDict
    loop: training.LoopConfig
    experts: ExpertChoice

    def agent_config_dict(self) -> Dict[str, Any]:
        """The learner's config as the plain dict its `create` and `update_n` take."""
        return self.agent_config.as_configdict().to_dict()

    def labeller_config_copy(self) -> ml_collections.ConfigDict:
        """A private, mutable copy of the labeller's config (a LabelRequest's)."""
        return self.labeller_config.as_configdict()

    def record(self, dataset_size: int) -> Dict[str, Any]:
        """config.json's content (without provenance): what --resume compares."""
        s = self.settings
        return {"method": self.method, "settings": s.to_dict(),
                s.agent: self.agent_config_dict(),
                "labeller_config": self.labeller_config_copy().to_dict(),
                "dataset_size": dataset_size, "loop": dict(self.loop.__dict__)}


def make_plan(settings: RunSettings) -> RunPlan:
    """The run's plan: every input checked (SettingsError naming the flag), every config
    resolved, before any data is read or folder made."""
    checks.check_settings(settings)
    domain = domains.domain_of(registry.get_spec(settings.env_name))
    agent_config = resolved_agent_config(settings, domain)
    labeller_config = resolved_labeller_config(settings, domain)
    checks.check_evaluation(settings)
    method = settings.method()
    return RunPlan(settings=settings, domain=domain, method=method,
                   run_dir=run_dir_for(settings.save_dir, method, settings.env_name,
                                       settings.seed),
                   agent_config=ml_collections.FrozenConfigDict(agent_config),
                   labeller_config=ml_collections.FrozenConfigDict(labeller_config),
                   loop=loop_config(settings, domain), experts=expert_choice(settings))


def expert_choice(settings: RunSettings) -> ExpertChoice:
    """Where the run's experts come from; SettingsError for an expert block with no source."""
    demonstrations = None
    if settings.setting == "imitation":
        demonstrations = domains.demonstrations_for(settings.env_name, settings.expert_dataset)
    source = domains.expert_source(settings.env_name)
    block = settings.expert_block
    if block is None:
        block = AGENTS[settings.agent].expert_block(settings.env_name) if source else 0
    if block and source is None:
        raise SettingsError(f"--expert_block={block}: {settings.env_name} has no expert dataset "
                            "to take the block from (gen-<env>-*-v0 and D4RL locomotion names "
                            "have one); pass --expert_block=0.")
    return ExpertChoice(setting=settings.setting, num_expert=settings.num_expert,
                        rule=settings.expert_rule(), demonstrations=demonstrations,
                        block=int(block), block_source=source if block else None)


def resolved_agent_config(settings: RunSettings, domain: domains.Domain
                          ) -> ml_collections.ConfigDict:
    """The learner's config: the settings' or the domain's reference config; SettingsError
    naming the flag when a field breaks the learner's `config_rules`."""
    spec = AGENTS[settings.agent]
    if settings.agent_config is not None:
        config = ml_collections.ConfigDict(settings.agent_config.as_configdict())
    elif spec.env_config is not None:
        config = spec.env_config(settings.env_name)
    else:
        config = spec.default_config(domain)
    checks.check_config(config, spec.config_rules, "--config")
    return config


def resolved_labeller_config(settings: RunSettings, domain: domains.Domain
                             ) -> ml_collections.ConfigDict:
    """A private copy of the labeller's config, with the CLUE ablation fields applied;
    SettingsError naming the flag when a field breaks the labeller's `config_rules`."""
    labeller = labellers.get_labeller(settings.labeller)
    if settings.labeller_config is not None:
        config = ml_collections.ConfigDict(settings.labeller_config.as_configdict())
    elif settings.labeller == "true":  # the dataset's rewards, processed as the learner's reference
        scaling, shift = AGENTS[settings.agent].true_reward(domain)
        config = ml_collections.ConfigDict({"reward_scaling": scaling,
                                            "reward_shift": float(shift)})
    else:
        config = labeller.default_config(domain)
    if settings.labeller == "clue":
        config.calibrate = bool(settings.calibrate) and bool(config.calibrate)
        config.compare_uncalibrated = bool(settings.compare_uncalibrated)
        if settings.temperature is not None:
            config.temperature = float(settings.temperature)
        if settings.cvae_steps is not None:
            config.num_steps = int(settings.cvae_steps)
    checks.check_config(config, labeller.config_rules, f"--{settings.labeller}_config")
    if labeller.preflight is not None:
        try:
            labeller.preflight(config, settings.env_name, settings.seed, None)
        except ValueError as err:
            raise SettingsError(str(err)) from None
    return config


def loop_config(settings: RunSettings, domain: domains.Domain) -> training.LoopConfig:
    """The training loop of the settings: the domain's budget unless --max_steps is given."""
    max_steps = settings.max_steps if settings.max_steps is not None else domain.max_steps
    return training.LoopConfig(seed=settings.seed, max_steps=int(max_steps),
                               batch_size=settings.batch_size or AGENTS[settings.agent].batch_size,
                               log_interval=settings.log_interval,
                               eval_interval=settings.eval_interval,
                               progress=settings.progress, resume=settings.resume,
                               deadline=settings.deadline)


def run_dir_for(save_dir: str, method: str, env_name: str, seed: int) -> Path:
    """<save_dir>/<method>/<env_name>/seed_<seed>: one folder per run, safe for shell loops."""
    return Path(save_dir) / method / env_name / f"seed_{seed}"
