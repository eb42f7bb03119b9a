"""Learners and labellers of your own, named once and found by every entry point.

    # my_methods.py (anywhere on PYTHONPATH)
    from clue_jax.experiments import agents
    from clue_jax.rewards import labellers
    labellers.register(labellers.Labeller("mine", True, default_config, label))
    agents.register(agents.AgentSpec("mylearner", ...))

    CLUE_JAX_PLUGINS=my_methods python train_iql.py --labeller=mine --agent=mylearner ...
    CLUE_JAX_PLUGINS=my_methods python reproduce.py --methods=mine,mine-imitation,mylearner ...

$CLUE_JAX_PLUGINS names modules (comma-separated) imported before the flags are defined and
before reproduce.py builds its method table, so `--labeller`, `--agent` and `--methods`
accept what they register; child processes inherit the variable. docs/ARCHITECTURE.md
("Adding a labeller", "Adding a learner") says what a labeller and a learner provide.
"""

import importlib
import os
from typing import List

ENV_VAR = "CLUE_JAX_PLUGINS"
_LOADED: List[str] = []


class PluginError(ImportError):
    """A module named in $CLUE_JAX_PLUGINS cannot be imported."""


def load_plugins() -> List[str]:
    """Import every module named in $CLUE_JAX_PLUGINS (once); returns their names."""
    names = [n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip()]
    for name in names:
        if name in _LOADED:
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise PluginError(f"{ENV_VAR}={os.environ[ENV_VAR]}: cannot import {name!r} ({err}); "
                              "put the module on PYTHONPATH or fix the name.") from err
        _LOADED.append(name)
    return list(_LOADED)
