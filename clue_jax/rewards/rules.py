"""A labeller config's field rules, checked on the resolved config before any run folder exists.

    RULES = {"temperature": positive(), "vae_data": one_of(("union", "concat"))}
    problems(config, RULES)  # -> ["vae_data='x': expected one of ('union', 'concat')"]

Each labeller module holds its rules (`CONFIG_RULES`); the registry passes them to the
runner (`Labeller.config_rules`), which refuses a run whose config breaks one, naming
the flag (`--clue_config.vae_data=...`), before any data is labelled.
"""

import math
from typing import Any, Callable, Dict, List, Tuple

from clue_jax.rewards.processing import REWARD_SCALINGS

Rule = Tuple[Callable[[Any], bool], str]  # (check, what is expected)
Rules = Dict[str, Rule]


def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def positive() -> Rule:
    return (lambda v: _finite(v) and v > 0, "a number > 0")


def non_negative() -> Rule:
    return (lambda v: _finite(v) and v >= 0, "a number >= 0")


def finite() -> Rule:
    return (_finite, "a finite number")


def one_of(choices: Tuple) -> Rule:
    return (lambda v: v in choices, f"one of {choices}")


# every labeller's reward post-processing (clue_jax.rewards.processing)
REWARD_RULES: Rules = {"reward_scaling": one_of(REWARD_SCALINGS), "reward_shift": finite()}


def problems(config, rules: Rules) -> List[str]:
    """'<field>=<value>: expected <what>' for each field of `config` that breaks its rule."""
    return [f"{field}={config[field]!r}: expected {what}" for field, (ok, what) in rules.items()
            if field in config and not ok(config[field])]
