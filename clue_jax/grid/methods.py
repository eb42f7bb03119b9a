"""The grid's methods: name -> (learner, labeller, setting, calibrated), with their variants.

A method is a column of a table: 'iql' (IQL on the dataset's true rewards), 'bc' (IQL's
actor with every weight 1: behaviour cloning), 'clue' / 'otr' (the sparse setting: the
dataset's successful episodes are the experts), '*-imitation' (K
demonstrations), '*-nocalib' (CLUE without calibration), the baselines of Table 4, the
CLUE sparse-setting study's variants, CLUE at each reward temperature of Tables 6-7
('clue-c1' ... 'clue-c10'), and one or two for every labeller and learner a plugin
registers (`registered_methods`).
"""

from typing import Dict, List, Tuple

from clue_jax.experiments import plugins
from clue_jax.grid import presets
from clue_jax.rewards.labellers import LABELLERS

# iql / td3bc: the learner on the dataset's true rewards;
# clue*/otr*: the sparse setting (the dataset's successful episodes are the experts),
# *-imitation: the imitation setting (gen-* datasets use their own demonstrations; for
# D4RL names pass `-- --expert_dataset=...`); *-nocalib: CLUE without calibration;
# oril / sqil: TD3+BC on those labellers' rewards; smodice / demodice / valuedice /
# iqlearn: the imitation learners (train_dice.py), always the imitation setting.
METHODS = {  # method -> (agent, labeller, setting, calibrate)
    "iql": ("iql", "true", "sparse", True),
    "clue": ("iql", "clue", "sparse", True),
    "clue-nocalib": ("iql", "clue", "sparse", False),
    "clue-imitation": ("iql", "clue", "imitation", True),
    "clue-imitation-nocalib": ("iql", "clue", "imitation", False),
    "otr": ("iql", "otr", "sparse", True),
    "otr-imitation": ("iql", "otr", "imitation", True),
    "td3bc": ("td3bc", "true", "sparse", True),
    "oril": ("oril", "oril", "imitation", True),
    "oril-dataset": ("td3bc", "oril", "imitation", True),
    "sqil": ("td3bc", "sqil", "imitation", True),
    "smodice": ("smodice", "oril", "imitation", True),
    "smodice-dataset": ("smodice", "oril", "imitation", True),
    "demodice": ("demodice", "none", "imitation", True),
    "valuedice": ("valuedice", "none", "imitation", True),
    "iqlearn": ("iqlearn", "none", "imitation", True),
    "iqlearn-offline": ("iqlearn", "none", "imitation", True),
}
# Baselines set up otherwise than their reference script: method -> (tag, expert selection,
# extra flags). ORIL and SMODICE on the dataset and the K demonstrations alone, with a
# discriminator that does not see the absorbing indicator (the set-up before the expert
# block); IQ-Learn's offline recipe (its code's `offline`, value_expert, chi on expert rows).
BASELINE_VARIANTS = {
    "oril-dataset": ("", "setting", ("--oril_config.absorbing=False",)),
    "smodice-dataset": ("dataset", "setting", ("--expert_block=0",
                                               "--oril_config.absorbing=False")),
    "iqlearn-offline": ("offline", "setting", ("--config.value_loss=value_expert",
                                               "--config.chi2_rows=expert",
                                               "--config.actor_states=expert")),
}
# The CLUE sparse-setting study (README "Calibration on the generated mazes"): one factor
# at a time from the defaults it started from (a random successful episode as the expert,
# r - 1, calibration summed over latent dims), each calibrated and not. method -> (tag,
# expert selection, CLUE config overrides); the run folder is named after the selection / tag.
# Every variant names its expert rule, so the study does not move with the default.
STUDY_VARIANTS = {
    "episodes": ("", "episodes", ()),
    "rr": ("rr", "episodes", ("--clue_config.reward_scaling=return_range",
                              "--clue_config.reward_shift=0.0")),
    "rr-shift": ("rr-shift", "episodes", ("--clue_config.reward_scaling=return_range",
                                          "--clue_config.reward_shift=-1.0")),
    "top": ("", "top_return", ()),
    "goal": ("", "goal_segments", ()),
    "calibmean": ("calibmean", "episodes", ("--clue_config.calib_reduction=mean",)),
    # the two that helped on large-diverse, together
    "goal-calibmean": ("calibmean", "goal_segments", ("--clue_config.calib_reduction=mean",)),
    # the chosen expert rule (today's default) with the averaged calibration
    "top-calibmean": ("calibmean", "top_return", ("--clue_config.calib_reduction=mean",)),
}
VARIANTS = {}  # method -> (tag, expert selection, extra flags)
for _name, _variant in STUDY_VARIANTS.items():
    VARIANTS[f"clue-{_name}"] = _variant
    METHODS[f"clue-{_name}"] = METHODS["clue"]
    if "calibmean" not in _name:  # without calibration the reduction does not matter
        VARIANTS[f"clue-{_name}-nocalib"] = _variant
        METHODS[f"clue-{_name}-nocalib"] = METHODS["clue-nocalib"]
STUDY_METHODS = tuple(VARIANTS)
VARIANTS.update(BASELINE_VARIANTS)
# CLUE with Eq. 6's z(s, a) a sample of q(z | s, a) instead of its mean (the config's use_mean;
# README "CLUE's settings"): method -> (tag, expert selection, CLUE config overrides).
SAMPLED_VARIANTS = {f"{name}-sampled": ("sampled", "setting", ("--clue_config.use_mean=False",))
                    for name in ("clue", "clue-imitation")}
for _name in SAMPLED_VARIANTS:
    METHODS[_name] = METHODS[_name[:-len("-sampled")]]
VARIANTS.update(SAMPLED_VARIANTS)
# Behaviour cloning, the control of any learned reward: IQL's actor with the inverse
# temperature beta = 0, so every advantage weight is exp(0) = 1 and the actor maximizes the
# data's log-likelihood alone (its critics still train, and nothing reads them).
BC_VARIANTS = {"bc": ("bc", "setting", ("--config.temperature=0.0",))}
METHODS["bc"] = METHODS["iql"]
VARIANTS.update(BC_VARIANTS)
# Tables 6-7's reward temperature c of CLUE (sparse setting): one method per c, its run folder
# tagged 'c<c>' (clue-sparse-K1-c3), so every c of a sweep has its own folder in one grid.
TEMPERATURE_VARIANTS = {name: (f"c{c}", "setting", (f"--temperature={c}",))
                        for c, name in zip(presets.TEMPERATURES, presets.TEMPERATURE_METHODS)}
for _name in TEMPERATURE_VARIANTS:
    METHODS[_name] = METHODS["clue"]
VARIANTS.update(TEMPERATURE_VARIANTS)
# Table 4 of the paper (offline imitation, K = 1 and 10): every method in its column order.
TABLE4_METHODS = presets.TABLE4_METHODS
plugins.load_plugins()  # learners and labellers of the user's own ($CLUE_JAX_PLUGINS)


def registered_methods() -> Dict[str, Tuple[str, str, str, bool]]:
    """Methods for every registered labeller and learner the table above does not name:
    a labeller L with experts gives 'L' (sparse, IQL) and 'L-imitation'; one without gives
    'L' (IQL on its rewards); a learner A gives 'A' (its own labeller, imitation, when it
    learns from demonstrations; else the dataset's true rewards)."""
    from clue_jax.experiments.agents import AGENTS
    used_labellers = {lab for _, lab, _, _ in METHODS.values()}
    used_agents = {agent for agent, _, _, _ in METHODS.values()}
    out = {}
    for name, labeller in LABELLERS.items():
        if name in used_labellers:
            continue
        out[name] = ("iql", name, "sparse", True)
        if labeller.needs_experts:
            out[f"{name}-imitation"] = ("iql", name, "imitation", True)
    for name, spec in AGENTS.items():
        if name not in used_agents:
            out[name] = ((name, spec.labellers[0], "imitation", True) if spec.labellers
                         else (name, "true", "sparse", True))
    return out


METHODS.update(registered_methods())
# Extra flags that only some labellers define go only to their cells (each labeller's
# config flag and `own_flags`, from the registry).
LABELLER_FLAGS = {name: ((f"--{lab.config_flag}",) if lab.config_flag else ()) + lab.own_flags
                  for name, lab in LABELLERS.items()
                  if lab.config_flag or lab.own_flags}


def route_flags(extra: List[str], labeller: str) -> List[str]:
    """`extra` without the flags that belong to other labellers."""
    foreign = [f for name, fl in LABELLER_FLAGS.items() if name != labeller for f in fl]
    return [e for e in extra if not any(e == f or e.startswith(f + "=") or e.startswith(f + ".")
                                        for f in foreign)]


def uses_experts(method: str) -> bool:
    """Whether a method's runs depend on K: its labeller reads experts (not 'true' or
    'constant', whose grids have one cell per task and seed)."""
    return LABELLERS[METHODS[method][1]].needs_experts


def column_name(method: str, k) -> str:
    """Table column: 'IQL' / 'TD3BC' / 'CONSTANT' without experts, else '<METHOD> (K=k)'."""
    return f"{method.upper()} (K={k})" if uses_experts(method) else method.upper()
