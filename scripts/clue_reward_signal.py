"""How much signal CLUE's Eq. 6 rewards carry, from a trained run's CVAE, for several labelling
choices, without training the CVAE again.

    python scripts/clue_reward_signal.py --run=<a CLUE run folder>
    python scripts/clue_reward_signal.py --run=<run> --cvae=<run>/cvae.msgpack.partial \
        --variants=mean:10,sample:10,sample:1 --save=<folder>

Reads the run's config.json, experts.json and CVAE (default <run>/cvae.msgpack; any file
the CVAE training wrote, e.g. a copy of its mid-training cvae.msgpack.partial), rebuilds
the dataset and the expert rows the run used, and prints:
  the encoder: |z_e| and the mean |mu| and sigma of q(z|s,a) on the expert rows and on
      the data (`labelling.encoder_stats`; sigma near 1 and |mu| near 0 on the data: the
      posterior has collapsed);
  per variant ('mean:c' is z = the encoder mean, 'sample:c' a reparameterised sample, c
      the temperature of Eq. 6): the raw rewards' mean and std, their rank correlation
      with the dataset's own rewards, their mean on the rows whose own reward is positive,
      on the other rows and on the expert rows; on maze datasets also the rank
      correlation with minus the distance of s' to the centre of the rewarded rows; on
      imitation runs the rank correlation of each trajectory's labelled return with its
      own return (the yardstick where every row has a reward, as in locomotion).
With --save, each variant's rewards (post-processed as the run's config says) go to
<save>/rewards_<variant>.npz, for `train_iql.py --reward_file`.
Runs of the sparse setting (their experts are rows of the dataset) and of the imitation
setting (their experts are the demonstrations experts.json names, read again here) whose
labeller labelled the dataset alone (CLUE with IQL; not a union with the demonstrations).
The dataset and the experts rebuilt here must be the run's own: where the run recorded
their fingerprints (config.json, experts.json) and they differ (generated data made on
another platform), the script stops and says so.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import ml_collections
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax.data.dataset import Dataset, trajectory_returns  # noqa: E402
from clue_jax.data.experts import segments_dataset  # noqa: E402
from clue_jax.experiments import domains  # noqa: E402
from clue_jax.experiments import records  # noqa: E402
from clue_jax.grid import tables  # noqa: E402
from clue_jax.rewards import clue, clue_labeller, labelling, storage  # noqa: E402
from clue_jax.rewards.plots import spearman  # noqa: E402
from clue_jax.rewards.processing import postprocess_rewards  # noqa: E402

SAMPLE_ROWS = 200_000  # rows of the dataset the rank correlations use (seeded)


def parse_variants(text: str) -> List[Tuple[bool, float]]:
    """'mean:10,sample:1' -> [(use_mean, temperature), ...]."""
    out = []
    for item in text.split(","):
        kind, _, c = item.strip().partition(":")
        try:
            temperature = float(c)
        except ValueError:
            temperature = float("nan")
        if kind not in ("mean", "sample") or not temperature > 0:
            raise SystemExit(f"--variants: {item!r} is not 'mean:<c>' or 'sample:<c>' with a "
                             "temperature c > 0 (e.g. --variants=mean:10,sample:10).")
        out.append((kind == "mean", temperature))
    return out


def load_run(run: Path):
    """(settings, labeller config, task, expert rows) of a CLUE run folder of the sparse or
    the imitation setting, rebuilt from its config.json and experts.json; SystemExit where
    the rebuilt data is not the run's."""
    record = json.loads((run / "config.json").read_text())
    settings = record["settings"]
    setting = settings.get("setting")
    if settings.get("labeller") != "clue" or setting not in ("sparse", "imitation"):
        raise SystemExit(f"--run={run}: a {settings.get('labeller')!r} run of the "
                         f"{setting!r} setting; pass a CLUE run of the sparse or the imitation "
                         "setting.")
    task = domains.resolve_task(settings["env_name"], dataset_path=settings["dataset_path"],
                                fraction=settings["dataset_fraction"], seed=settings["seed"])
    chosen = json.loads((run / "experts.json").read_text())
    source = task.dataset
    if setting == "imitation":
        source = domains.load_demonstrations(
            domains.demonstrations_for(settings["env_name"], settings.get("expert_dataset")))
    expert = segments_dataset(source, np.asarray(chosen["segments"], np.int64))
    recorded = tables.fingerprints(run)  # '' where the run is older than the fingerprints
    records.require_rebuilt(run, "dataset", task.dataset, recorded["data"])
    records.require_rebuilt(run, "experts", expert, recorded["experts"])
    labelled = task.dataset.size
    if (run / "rewards.npz").is_file():
        with np.load(run / "rewards.npz") as f:
            labelled = int(f["n"])
    if labelled != task.dataset.size:
        raise SystemExit(f"--run={run}: its labeller labelled {labelled} rows, the dataset has "
                         f"{task.dataset.size}: a union with the demonstrations (an agent that "
                         "learns from them, or an expert block), which this script does not "
                         "rebuild; pass a CLUE run with IQL.")
    return (settings, ml_collections.ConfigDict(record["labeller_config"]), task, expert)


def goal_distance(task: domains.Task, data: Dataset) -> Optional[np.ndarray]:
    """Per row, the distance of s' to the centre of the rows whose own reward is positive
    (maze datasets: the goal); None where the observation holds no position or no row is
    rewarded."""
    truth = np.asarray(data.rewards)
    if task.domain.xy is None or not (truth > 0).any():
        return None
    lo, hi = task.domain.xy
    xy = np.asarray(data.next_observations)[:, lo:hi]
    return np.linalg.norm(xy - xy[truth > 0].mean(axis=0), axis=1)


FLOOR = 1e-3  # a raw Eq. 6 reward below this is counted as none (exp(-c d^2) of a far row)


def signal_row(model, data: Dataset, expert: Dataset, z_e: np.ndarray, variant: Tuple[bool, float],
               seed: int, rows: np.ndarray, distance: Optional[np.ndarray],
               per_trajectory: bool = False):
    """(table cells, raw Eq. 6 rewards (N,)) of one variant (use_mean, temperature);
    `per_trajectory`: add the rank correlation of labelled and own trajectory returns."""
    use_mean, c = variant
    key = clue_labeller.label_key(use_mean, seed)  # a run's own labelling draws the same z
    raw = labelling.label_rewards(model, data.observations, data.actions, z_e, c,
                                  use_mean=use_mean, key=key)
    expert_raw = labelling.label_rewards(model, expert.observations, expert.actions, z_e, c,
                                         use_mean=use_mean, key=key)
    truth = np.asarray(data.rewards)
    goal = records.goal_row_rewards(raw, truth)
    cells = [variant_name(variant), f"{raw.mean():.3f}", f"{raw.std():.3f}",
             f"{np.mean(raw < FLOOR):.3f}", f"{spearman(raw[rows], truth[rows]):.3f}"]
    if per_trajectory:
        returns = [trajectory_returns(r, data.dones_float) for r in (raw, truth)]
        cells.append(f"{spearman(*returns):.3f}")
    if distance is not None:
        cells.append(f"{spearman(raw[rows], -distance[rows]):.3f}")
    cells += [f"{goal.get('goal_rows_reward_mean', float('nan')):.3f}",
              f"{goal.get('other_rows_reward_mean', float('nan')):.3f}",
              f"{expert_raw.mean():.3f}"]
    return cells, raw


def variant_name(variant: Tuple[bool, float]) -> str:
    return f"{'mean' if variant[0] else 'sample'}:{variant[1]:g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True,
                        help="A CLUE run folder (sparse or imitation setting).")
    parser.add_argument("--cvae", default=None, help="CVAE file (default <run>/cvae.msgpack).")
    parser.add_argument("--variants", default="mean:10,sample:10",
                        help="Comma-separated mean:<c> / sample:<c>.")
    parser.add_argument("--save", default=None, help="Write rewards_<variant>.npz here.")
    args = parser.parse_args()
    run = Path(args.run)
    variants = parse_variants(args.variants)
    cvae = Path(args.cvae) if args.cvae else run / "cvae.msgpack"
    for path in (run / "config.json", run / "experts.json", cvae):
        if not path.is_file():
            raise SystemExit(f"{path} does not exist; --run must be a CLUE run folder whose CVAE "
                             "finished (or pass --cvae=<a copy of its cvae.msgpack.partial>).")
    settings, cfg, task, expert = load_run(run)
    data, seed = task.dataset, settings["seed"]
    state = storage.restore_cvae(cvae, clue.create_clue_state(cfg, data, seed))
    rows = np.random.default_rng(0).choice(data.size, min(SAMPLE_ROWS, data.size), replace=False)
    distance = goal_distance(task, data)
    z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
    print(f"{settings['env_name']} seed {seed}, CVAE {cvae} ({int(state.step)} updates)")
    print(f"encoder: |z_e| {np.linalg.norm(z_e):.3f}, " + ", ".join(
        f"{k} {v:.3f}" for k, v in labelling.encoder_stats(state.model, data, expert).items()))
    per_trajectory = settings["setting"] == "imitation"
    head = (["variant", "mean", "std", f"below {FLOOR:g}", "rho(own reward)"]
            + (["rho(trajectory return)"] if per_trajectory else [])
            + (["rho(-distance)"] if distance is not None else [])
            + ["rewarded rows", "other rows", "expert rows"])
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for variant in variants:
        cells, raw = signal_row(state.model, data, expert, z_e, variant, seed, rows, distance,
                                per_trajectory)
        print("| " + " | ".join(cells) + " |", flush=True)
        if args.save:
            out = Path(args.save) / f"rewards_{variant_name(variant).replace(':', '_c')}.npz"
            out.parent.mkdir(parents=True, exist_ok=True)
            storage.save_rewards(
                out, postprocess_rewards(raw, data.dones_float, cfg.reward_scaling,
                                         cfg.reward_shift), data,
                metadata={"use_mean": variant[0], "temperature": variant[1], "cvae": str(cvae),
                          "cvae_updates": int(state.step), "raw_reward_std": float(raw.std())})


if __name__ == "__main__":
    main()
