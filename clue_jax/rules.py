"""Config field rules, checked on a run's resolved configs before any data is read or folder made.

    RULES = {"temperature": positive(), "vae_data": one_of(("union", "concat"))}
    problems(config, RULES)  # -> ["vae_data='x': expected one of ('union', 'concat')"]

Each labeller module holds its rules (`CONFIG_RULES`, passed on as `Labeller.config_rules`),
each learner's spec its own (`AgentSpec.config_rules`); the runner refuses a run whose
config breaks one with a message naming the flag (`--clue_config.vae_data=...`,
`--config.expectile=...`). A field the config does not have is not checked.
"""

import math
import numbers
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

Rule = Tuple[Callable[[Any], bool], str]  # (check, what is expected)
Rules = Dict[str, Rule]


def _finite(value: Any) -> bool:
    """A real number (Python's or NumPy's, not a bool) that is finite."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def positive() -> Rule:
    return (lambda v: _finite(v) and v > 0, "a number > 0")


def non_negative() -> Rule:
    return (lambda v: _finite(v) and v >= 0, "a number >= 0")


def finite() -> Rule:
    return (_finite, "a finite number")


def one_of(choices: Tuple) -> Rule:
    return (lambda v: v in choices, f"one of {choices}")


def within(low: float, high: float, *, open_low: bool = False, open_high: bool = False
           ) -> Rule:
    """A number in [low, high], either end open on request."""
    def ok(v):
        return (_finite(v) and (v > low if open_low else v >= low)
                and (v < high if open_high else v <= high))
    return ok, f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"


def boolean() -> Rule:
    """True or False (not 0 / 1 or a string)."""
    return (lambda v: isinstance(v, (bool, np.bool_)), "True or False")


def sizes() -> Rule:
    """Hidden layer sizes: a non-empty sequence of integers > 0."""
    return (lambda v: isinstance(v, (tuple, list)) and len(v) > 0
            and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
                    for h in v),
            "a non-empty list of layer sizes > 0, e.g. (256, 256)")


def problems(config, rules: Rules) -> List[str]:
    """'<field>=<value>: expected <what>' for each field of `config` that breaks its rule."""
    return [f"{field}={config[field]!r}: expected {what}" for field, (ok, what) in rules.items()
            if field in config and not ok(config[field])]
