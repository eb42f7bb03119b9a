"""The labeller seam: a labeller turns a dataset (+ chosen experts) into one reward per transition.

    LabelRequest (dataset, experts, config, seed, run folder) --labeller--> Labels (rewards, info)

The learner downstream only sees `dataset.with_rewards(labels.rewards)`: it
never knows which labeller made them. Labellers are registered by name in
`LABELLERS`:

    true   the dataset's own rewards, processed as the reference IQL does per domain
    clue   CLUE: calibrated CVAE + Eq. 6 intrinsic rewards (clue_labeller.py)
    otr    Optimal Transport Reward (otr.py)
    oril   ORIL: a state-only discriminator's logit (oril.py); trains TD3+BC in its paper
    sqil   SQIL: r = 0 on the dataset, r = 1 on the expert transitions, which the learner
           samples beside the dataset (B rows of each per batch, IQ-Learn's mix)
    none   no reward (all 0): for the learners that imitate the demonstrations directly
           (DemoDICE, ValueDICE, IQ-Learn); refused for learners that need rewards
    constant  the same reward on every row: `value` (0; --constant_config.value) plus the
           domain's shift (AntMaze: -1, every step a cost, the goal rows' terminals alone
           saying where the task ends), or another run's mean reward (`level_from`, a
           labeller's level control); the control that says what a labeller adds to the
           data's own terminals (constant.py, configs/constant_config.py)
    shuffled  another run's rewards permuted over the rows (`rewards_from`): a labeller's
           level and spread kept, which row earns which lost; the control that says what
           its rewards' placement adds (shuffled.py, configs/shuffled_config.py)

A new labeller is one `Labeller` entry: its name, whether it needs experts, a
per-domain default config, and `label(request) -> Labels` (optionally its
`config_file`, which gives the scripts a `--<name>_config` flag, `own_flags` that
reproduce.py routes to its cells only,
`label_seeds(requests)`, several seeds' labelling as one program, as CLUE's CVAEs
train vmapped under `--seeds`, and `config_rules`, its config fields' ranges
(clue_jax.rules), checked before any run folder exists, and `preflight`, its checks
that need the run's dataset name, seed and data). Rewards come out
post-processed for the learner (`processing.postprocess_rewards` with the
config's reward_scaling / reward_shift) and, where computing them is costly,
saved to <run>/rewards.npz (checksummed against the dataset) and reused on resume.
"""

import hashlib
from pathlib import Path
from typing import Dict, List

import ml_collections
import numpy as np

from clue_jax.rewards import clue, clue_labeller, constant, oril, otr, shuffled, storage
from clue_jax.rewards.base import REWARD_FILE, Labeller, LabelRequest, Labels, saved_rewards
from clue_jax.rewards.processing import REWARD_RULES, postprocess_rewards
from configs import clue_config, constant_config, oril_config, otr_config, shuffled_config

__all__ = ["LABELLERS", "Labeller", "LabelRequest", "Labels", "get_labeller", "register"]


def _true_config(domain) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({"reward_scaling": domain.reward_scaling,
                                      "reward_shift": float(domain.reward_shift)})


def _label_true(request: LabelRequest) -> Labels:
    data = request.dataset
    if not np.isfinite(data.rewards).all():
        raise ValueError("labeller 'true' trains on the dataset's own rewards, but they were "
                         "discarded (--setting=imitation); use --setting=sparse or another "
                         "labeller (clue, otr).")
    cfg = request.config
    rewards = postprocess_rewards(data.rewards, data.dones_float, cfg.reward_scaling,
                                  cfg.reward_shift)
    return Labels(rewards, {"reward_mean": float(rewards.mean())})


def _otr_config(domain) -> ml_collections.ConfigDict:
    return otr_config.get_config(domain.labeller_domain)


def _label_otr(request: LabelRequest) -> Labels:
    restored = saved_rewards(request)
    if restored is not None:
        return restored
    cfg, data = request.config, request.dataset
    raw, info = otr.otr_rewards(data, request.expert, cfg)
    rewards = postprocess_rewards(raw, data.dones_float, cfg.reward_scaling, cfg.reward_shift)
    info["reward_mean"] = float(rewards.mean())
    storage.save_rewards(Path(request.run_dir) / REWARD_FILE, rewards, data, metadata=info)
    return Labels(rewards, info)


def _label_otr_seeds(requests: List[LabelRequest]) -> List[Labels]:
    """`_label_otr` for several runs of one dataset: OTR has no seed, so runs whose experts
    are the same trajectories (e.g. the seeds of an imitation run) share one computation;
    each run still gets its rewards.npz."""
    out: List[Labels] = [None] * len(requests)
    todo: Dict[str, List[int]] = {}
    for i, request in enumerate(requests):
        restored = saved_rewards(request)
        if restored is not None:
            out[i] = restored
            continue
        expert = request.expert
        key = hashlib.sha256(np.ascontiguousarray(expert.observations).tobytes()
                             + np.ascontiguousarray(expert.dones_float).tobytes()).hexdigest()
        todo.setdefault(key, []).append(i)
    for rows in todo.values():
        first = _label_otr(requests[rows[0]])
        out[rows[0]] = first
        for i in rows[1:]:
            request = requests[i]
            storage.save_rewards(Path(request.run_dir) / REWARD_FILE, first.rewards,
                                 request.dataset, metadata=first.info)
            out[i] = Labels(first.rewards, dict(first.info))
    return out


def _label_sqil(request: LabelRequest) -> Labels:
    """SQIL: 0 for every dataset transition, 1 for every expert one, batches half and half."""
    expert = request.expert.with_rewards(np.ones(request.expert.size, np.float32))
    rewards = np.zeros(request.dataset.size, np.float32)
    return Labels(rewards, {"expert_transitions": expert.size, "batch": "offline B + expert B"},
                  expert_data=expert)


def _label_none(request: LabelRequest) -> Labels:
    """No reward: the learner (DemoDICE, ValueDICE, IQ-Learn) reads only the demonstrations."""
    return Labels(np.zeros(request.dataset.size, np.float32),
                  {"rewards": "none (the learner imitates the demonstrations directly)"})


def _constant_key(domain) -> str:
    return repr(float(domain.reward_shift))


def _constant_config(domain) -> ml_collections.ConfigDict:
    return constant_config.get_config(_constant_key(domain))


def _clue_config(domain) -> ml_collections.ConfigDict:
    return clue_config.get_config(domain.labeller_domain)


LABELLERS: Dict[str, Labeller] = {
    "true": Labeller("true", False, _true_config, _label_true, config_rules=REWARD_RULES),
    "clue": Labeller("clue", True, _clue_config, clue_labeller.label,
                     clue_labeller.label_seeds, config_rules=clue.CONFIG_RULES,
                     config_file="clue_config.py", config_by_domain=True,
                     own_flags=("--cvae_steps", "--temperature", "--compare_uncalibrated",
                                "--nocompare_uncalibrated"),
                     labelling_fields=clue_labeller.LABELLING_FIELDS),
    "otr": Labeller("otr", True, _otr_config, _label_otr, _label_otr_seeds,
                    config_rules=otr.CONFIG_RULES, config_file="otr_config.py",
                    config_by_domain=True, requires=otr.ott_modules),
    "oril": Labeller("oril", True, lambda domain: oril_config.get_config(), oril.label,
                     config_rules=oril.CONFIG_RULES, config_file="oril_config.py"),
    "sqil": Labeller("sqil", True, lambda domain: ml_collections.ConfigDict(), _label_sqil),
    "none": Labeller("none", True, lambda domain: ml_collections.ConfigDict(), _label_none),
    "constant": Labeller("constant", False, _constant_config, constant.label,
                         config_rules=constant.CONFIG_RULES, config_file="constant_config.py",
                         config_by_domain=True, config_key=_constant_key,
                         config_key_name="reward shift", preflight=constant.preflight),
    "shuffled": Labeller("shuffled", False, lambda domain: shuffled_config.get_config(),
                         shuffled.label, config_rules=shuffled.CONFIG_RULES,
                         config_file="shuffled_config.py", preflight=shuffled.preflight),
}


def get_labeller(name: str) -> Labeller:
    """The registered labeller `name`; ValueError listing the names otherwise."""
    if name not in LABELLERS:
        raise ValueError(f"--labeller={name!r}: expected one of {sorted(LABELLERS)}.")
    return LABELLERS[name]


def register(labeller: Labeller) -> None:
    """Add a labeller (e.g. a baseline's) under `labeller.name`."""
    if labeller.name in LABELLERS:
        raise ValueError(f"a labeller named {labeller.name!r} is already registered.")
    LABELLERS[labeller.name] = labeller
