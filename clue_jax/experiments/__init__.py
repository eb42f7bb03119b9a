"""The experiment layer: a run built from frozen settings, in process.

    from clue_jax.experiments import RunSettings, run
    results = run(RunSettings(env_name="gen-pointmaze-large-diverse-v0", labeller="otr"))

domains.py  the one per-domain table; a dataset name resolved once into a Task
settings.py RunSettings (frozen), the run-folder name of a method
runner.py   experts -> labeller -> agent -> loop (the seam: `label_and_train`)
skills.py   the unsupervised setting: K-means clusters through the same seam
flags.py    absl flags -> RunSettings for the scripts (the only reader of FLAGS)
"""

from typing import Any, Dict

from clue_jax.envs import registry
from clue_jax.experiments import domains, runner, skills
from clue_jax.experiments.domains import DOMAINS, Domain, Task, load_dataset, resolve_task
from clue_jax.experiments.settings import RunSettings, SettingsError


def run(settings: RunSettings) -> Dict[str, Any]:
    """One run from its settings: inputs checked, task resolved once, then the setting's stages."""
    runner.check_settings(settings)
    if (settings.eval_episodes > 0 and settings.setting != "unsupervised"
            and not registry.reference_scores_measured(settings.env_name)):
        raise SettingsError(
            f"--env_name={settings.env_name}: its reference returns are not known, so no "
            "normalized score can be reported; "
            + registry.UNMEASURED_SCORE_HINTS.get(settings.env_name,
                                                  "register the spec with measured values.")
            + " (--eval_episodes=0 trains without evaluating.)")
    task = resolve_task(settings.env_name, dataset_path=settings.dataset_path,
                        download=settings.download, fraction=settings.dataset_fraction,
                        seed=settings.seed)
    if settings.setting == "unsupervised":
        return {"skills": skills.run(settings, task)}
    return runner.run_labelled(settings, task)


__all__ = ["DOMAINS", "Domain", "RunSettings", "Task", "domains", "load_dataset",
           "resolve_task", "run", "runner"]
