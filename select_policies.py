"""Pick the medium and expert actors of a train_sac.py run and install them as the dataset policies.

    python select_policies.py --run_dir=runs/sac/Hopper-v5/seed_0

- expert: the snapshot with the highest evaluated return (or --expert_step);
- medium: the FIRST snapshot before it whose return reached --medium_fraction
  (1/3, as D4RL) of the expert's (or --medium_step), i.e. early stopping;
- copies them to <policy dir>/<env>/{medium,expert}.msgpack (policy dir:
  --policy_dir, $CLUE_JAX_POLICY_DIR or clue_jax/policies);
- writes <policy dir>/<env>/medium_replay.hdf5 (gzip): the run's replay log up
  to the medium step, the source of gen-<env>-medium-replay-v0;
- measures the reference returns over --ref_episodes episodes (random: uniform
  actions; expert: the expert actor's deterministic actions) and prints the
  LOCOMOTION_REFS row (clue_jax/envs/locomotion.py) and the README table rows.
"""

import json
import shutil
from pathlib import Path

from absl import app, flags

from clue_jax import sac_loop
from clue_jax.data import d4rl_io, replay
from clue_jax.generation import locomotion_datasets, locomotion_refs
from clue_jax.envs import locomotion

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "A train_sac.py run folder.", required=True)
flags.DEFINE_string("policy_dir", None, "Destination; default $CLUE_JAX_POLICY_DIR or "
                    "clue_jax/policies.")
flags.DEFINE_float("medium_fraction", 1.0 / 3.0, "Medium = first snapshot reaching this "
                   "fraction of the expert's return.")
flags.DEFINE_integer("medium_step", None, "Use this snapshot step as medium instead.")
flags.DEFINE_integer("expert_step", None, "Use this snapshot step as expert instead.")
flags.DEFINE_integer("ref_episodes", 100, "Episodes to measure the reference returns (0: skip).")


def choose(snapshots, fraction, medium_step=None, expert_step=None):
    """(medium, expert) snapshot entries; raises ValueError when none qualifies."""
    by_step = {s["step"]: s for s in snapshots}
    for step in (medium_step, expert_step):
        if step is not None and step not in by_step:
            raise ValueError(f"no snapshot at step {step}; steps: {sorted(by_step)}.")
    expert = by_step[expert_step] if expert_step else max(snapshots, key=lambda s: s["return"])
    if medium_step:
        return by_step[medium_step], expert
    target = fraction * expert["return"]
    reached = [s for s in snapshots if s["step"] < expert["step"] and s["return"] >= target]
    if not reached:
        raise ValueError(f"no snapshot before step {expert['step']} reached {target:.1f} "
                         f"({fraction:.3f} of the expert's {expert['return']:.1f}); pass "
                         "--medium_step.")
    return reached[0], expert


def main(_):
    run_dir = Path(FLAGS.run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    stem = locomotion.env_stem(config["gym_id"])
    snapshots = sac_loop.read_snapshots(run_dir)
    if not snapshots:
        raise SystemExit(f"{run_dir} has no {sac_loop.SNAPSHOT_INDEX}: not a train_sac.py run?")
    medium, expert = choose(snapshots, FLAGS.medium_fraction, FLAGS.medium_step,
                            FLAGS.expert_step)
    target = Path(FLAGS.policy_dir or locomotion_datasets.policy_dir()) / stem
    target.mkdir(parents=True, exist_ok=True)
    for quality, entry in (("medium", medium), ("expert", expert)):
        shutil.copyfile(run_dir / entry["file"], target / f"{quality}.msgpack")
        print(f"{quality}: step {entry['step']}, return {entry['return']:.1f} -> "
              f"{target / f'{quality}.msgpack'}")
    data = replay.load_replay_log(run_dir / "replay", upto=medium["step"])
    out = d4rl_io.save_hdf5(str(target / "medium_replay.hdf5"), data, gzip=True, metadata={
        "medium_step": medium["step"], "policy_return": medium["return"],
        "run_seed": config["flags"]["seed"], "gym_id": config["gym_id"]})
    print(f"medium-replay: {len(data['rewards'])} transitions -> {out} "
          f"({Path(out).stat().st_size / 1e6:.1f} MB; ship it only if small)")
    argv = config.get("argv") or ["train_sac.py"] + [f"--{k}={v}"
                                                     for k, v in config["flags"].items()]
    command = " ".join(a for a in argv if a not in ("--resume", "--resume=true", "--resume=True"))
    for quality, entry in (("medium", medium), ("expert", expert)):
        print(f"README row: | {stem} | {quality} | `python {command}` | "
              f"{config['flags']['seed']} | {entry['step']} | {entry['return']:.1f} |")
    if FLAGS.ref_episodes > 0:
        refs = locomotion_refs.measure_refs(stem, FLAGS.ref_episodes,
                                                 policy_folder=target.parent)
        print(f"LOCOMOTION_REFS row ({FLAGS.ref_episodes} episodes, seeds 0..):\n"
              f"    {locomotion_refs.refs_row(stem, refs)}")


if __name__ == "__main__":
    app.run(main)
