"""How far an IQL run's critic sees: its V(s) and Q(s, a) on the dataset's rows against the
data's own discounted return-to-go, by how many steps remain to the trajectory's end.

    python scripts/value_check.py --run=<an IQL run folder>
    python scripts/value_check.py --run=<run> --rows=0 --bins=0,20,50,100,200,400,1000

Reads the run's config.json and checkpoint.msgpack (its last saved agent), rebuilds the
dataset and the rewards the learner saw (the run's rewards.npz, or, for a labeller that
keeps none and reads no demonstrations, its rewards made again with the run's config:
the true rewards, a constant, another run's rewards shuffled), and prints for the rows:
  the mean of V(s), of Q(s, a) (the smaller of the twin critics, as IQL's value target) and
      of G, the data's discounted return-to-go under the run's discount
      (G_t = r_t + discount * mask_t * G_{t+1}, summed to the trajectory's end), and the
      rank correlation of V with G;
  the same by steps to the trajectory's end, for trajectories that end at a terminal (a
      fall in locomotion, where G is exact) and for those cut by a time limit (G stops at
      the cut, so it is a lower bound there).
IQL's value is an upper expectile (expectile > 0.5) of Q over the data's actions, so once
training has carried the rewards back through the Bellman backups V should lie at or above
G everywhere. Where V stays below G from some distance to the end on, the critic has not yet
seen that far: with target updates at rate tau, each backup takes about 1 / tau updates,
and a discount near 1 needs many backups before a fall far ahead is priced in.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

import ml_collections
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clue_jax import checkpoints, networks  # noqa: E402
from clue_jax.data.dataset import Dataset, trajectory_bounds  # noqa: E402
from clue_jax.experiments import domains, records  # noqa: E402
from clue_jax.grid import tables  # noqa: E402
from clue_jax.rewards import labellers, storage  # noqa: E402
from clue_jax.rewards.base import LabelRequest  # noqa: E402
from clue_jax.rewards.plots import spearman  # noqa: E402

DEFAULT_BINS = "0,20,50,100,200,400,1000"


def returns_to_go(rewards: np.ndarray, masks: np.ndarray, dones_float: np.ndarray,
                  discount: float) -> np.ndarray:
    """(N,) float64 discounted return from each row to its trajectory's end:
    G_t = r_t + discount * mask_t * G_{t+1}, with G = 0 past a trajectory's last row."""
    rewards = np.asarray(rewards, np.float64)
    carry = np.asarray(masks, np.float64) * discount
    out = np.zeros_like(rewards)
    for start, end in zip(*trajectory_bounds(dones_float)):
        following = 0.0
        for i in range(end - 1, start - 1, -1):
            following = rewards[i] + carry[i] * following
            out[i] = following
    return out


def steps_to_end(dones_float: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(N,) steps from each row to its trajectory's last row (0 on that row), and (N,) the
    index of that last row."""
    starts, ends = trajectory_bounds(dones_float)
    last = np.repeat(ends - 1, ends - starts)
    return last - np.arange(len(last)), last


def load_run(run: Path) -> Tuple[dict, Dataset, np.ndarray, dict]:
    """(config.json, dataset, rewards (N,) as the learner saw them, the agent's checkpointed
    state) of an IQL run folder; SystemExit naming --run for anything else."""
    if not (run / "config.json").is_file():
        raise SystemExit(f"--run={run}: not a run folder (no config.json); pass "
                         "<save_dir>/<method>/<dataset>/seed_<seed> of an IQL run.")
    record = json.loads((run / "config.json").read_text())
    settings = record["settings"]
    if settings.get("agent") != "iql" or "iql" not in record:
        raise SystemExit(f"--run={run}: a run of the {settings.get('agent')!r} agent; this "
                         "script reads IQL's value and twin critics: pass an IQL run.")
    checkpoint = checkpoints.find(run)
    if checkpoint is None:
        raise SystemExit(f"--run={run}: no checkpoint.msgpack (the run saved no agent yet); "
                         "pass a run that has trained past its first checkpoint.")
    task = domains.resolve_task(settings["env_name"], dataset_path=settings["dataset_path"],
                                fraction=settings["dataset_fraction"], seed=settings["seed"])
    data = task.dataset
    records.require_rebuilt(run, "dataset", data, tables.fingerprints(run)["data"])
    if (run / "rewards.npz").is_file():
        try:
            rewards = storage.load_rewards(run / "rewards.npz", data)
        except storage.RewardFileError as err:  # e.g. a union with the demonstrations
            raise SystemExit(f"--run={run}: {err} This script reads runs whose learner "
                             "trained on the dataset's rows alone.") from None
    else:  # a labeller that keeps no rewards.npz: relabel with it, as the run's config says
        rewards = relabel(run, record, data)
    return record, data, rewards, checkpoints.load_raw(checkpoint)["agent"]


def relabel(run: Path, record: dict, data: Dataset) -> np.ndarray:
    """The rewards of a run whose labeller kept no rewards.npz, made again by that labeller
    with the run's config and seed. Only labellers that read no demonstrations ('true',
    'constant', 'shuffled') are rebuilt: they are a function of the data, the config and
    the seed; SystemExit naming --run for the others or a failed relabelling."""
    settings = record["settings"]
    name = settings.get("labeller")
    labeller = labellers.LABELLERS.get(name)
    if labeller is None or labeller.needs_experts:
        raise SystemExit(f"--run={run}: a {name!r} run without its rewards.npz; this script "
                         "rebuilds only the rewards of labellers that read no demonstrations "
                         "(true, constant, shuffled): pass the run folder its labeller wrote "
                         "into.")
    request = LabelRequest(dataset=data, expert=None, seed=settings["seed"], run_dir=run,
                           config=ml_collections.ConfigDict(record["labeller_config"]),
                           env_name=settings["env_name"])
    try:
        return np.asarray(labeller.label(request).rewards)
    except (ValueError, OSError) as err:  # e.g. a level_from run that is gone
        raise SystemExit(f"--run={run}: its {name!r} rewards could not be made again: {err}"
                         ) from None


def values(agent: dict, hidden_dims: Sequence[int], observations: np.ndarray,
           actions: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(V(s), min(Q1, Q2)(s, a)), each (B,), of a checkpointed IQL agent."""
    v = networks.ValueCritic(tuple(hidden_dims)).apply(
        {"params": agent["value"]["params"]}, observations)
    q1, q2 = networks.DoubleCritic(tuple(hidden_dims)).apply(
        {"params": agent["critic"]["params"]}, observations, actions)
    return np.asarray(v, np.float64), np.minimum(np.asarray(q1), np.asarray(q2)).astype(np.float64)


def parse_bins(text: str) -> List[int]:
    """'0,20,50' -> [0, 20, 50]: increasing steps to the end, bins [b_i, b_i+1)."""
    try:
        bins = [int(b) for b in text.split(",")]
    except ValueError:
        bins = []
    if len(bins) < 2 or bins[0] < 0 or any(b >= c for b, c in zip(bins, bins[1:])):
        raise SystemExit(f"--bins={text}: expected at least two increasing integers >= 0, "
                         f"e.g. {DEFAULT_BINS}.")
    return bins


def table(v, q, g, steps, bins) -> List[str]:
    """Markdown rows of the means by steps to the end."""
    lines = ["| steps to the end | rows | V(s) | Q(s, a) | G | V - G |", "|---|---|---|---|---|---|"]
    for lo, hi in zip(bins, bins[1:]):
        m = (steps >= lo) & (steps < hi)
        if m.any():
            lines.append(f"| [{lo}, {hi}) | {int(m.sum())} | {v[m].mean():.2f} | {q[m].mean():.2f} "
                         f"| {g[m].mean():.2f} | {(v[m] - g[m]).mean():+.2f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="an IQL run folder (its seed_<seed>)")
    parser.add_argument("--rows", type=int, default=100_000,
                        help="rows drawn (seed 0) from the dataset; 0 for every row")
    parser.add_argument("--bins", default=DEFAULT_BINS,
                        help="edges of the steps-to-the-end bins, comma-separated")
    args = parser.parse_args()
    bins = parse_bins(args.bins)
    if args.rows < 0:
        raise SystemExit(f"--rows={args.rows}: expected a count >= 0 (0 for every row).")
    run = Path(args.run)
    record, data, rewards, agent = load_run(run)
    discount = float(record["iql"]["discount"])
    g = returns_to_go(rewards, data.masks, data.dones_float, discount)
    steps, last = steps_to_end(data.dones_float)
    falls = data.masks[last] == 0
    rows = np.arange(data.size)
    if 0 < args.rows < data.size:
        rows = np.sort(np.random.default_rng(0).choice(data.size, args.rows, replace=False))
    v, q = values(agent, record["iql"]["hidden_dims"], data.observations[rows], data.actions[rows])
    g, steps, falls = g[rows], steps[rows], falls[rows]
    results = json.loads((run / "results.json").read_text()) if (run / "results.json").is_file() else {}
    updates = int(agent["critic"]["step"])
    print(f"{run}: {record['method']} on {record['settings']['env_name']}, {updates} updates, "
          f"discount {discount}, expectile {record['iql']['expectile']}, tau {record['iql']['tau']}"
          + (f", score {results['score_last3']:.1f}" if "score_last3" in results else ""))
    print(f"{rows.size} of {data.size} rows; the rewards as the learner saw them: mean "
          f"{rewards.mean():.4f}, so a row earning it for ever is worth "
          f"{rewards.mean() / (1 - discount):.1f}\n")
    print("| rows | V(s) | Q(s, a) | G | V - G | rank correlation of V with G |")
    print("|---|---|---|---|---|---|")
    print(f"| all | {v.mean():.2f} | {q.mean():.2f} | {g.mean():.2f} | {(v - g).mean():+.2f} "
          f"| {spearman(v, g):.3f} |")
    for name, m in (("trajectories that end at a terminal: G exact", falls),
                    ("trajectories cut by a time limit: G a lower bound", ~falls)):
        if m.any():
            print(f"\n{name} ({int(m.sum())} rows)\n")
            print("\n".join(table(v[m], q[m], g[m], steps[m], bins)))


if __name__ == "__main__":
    main()
