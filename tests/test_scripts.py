"""Smoke runs of train_iql.py and train_clue.py (all three settings), as subprocesses.

Tiny networks, a 6000-transition generated maze and a few hundred updates:
each run checks its outputs and numbers, not just that it exits.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # every test here starts training processes

from clue_jax.data import d4rl_io
from clue_jax.generation import generated
from clue_jax.grid import estimate
from clue_jax.experiments.flags import parse_settings  # noqa: E402
from clue_jax.experiments.settings import RunSettings, write_plan_file  # noqa: E402
from test_interrupts import sigint_default  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = "gen-pointmaze-umaze-diverse-v0"
TINY_IQL = ["--config=configs/antmaze_config.py", "--config.hidden_dims=(16,16)"]
TINY_CLUE = ["--clue_config=configs/clue_config.py:pointmaze", "--clue_config.hidden_dims=(16,16)",
             "--clue_config.num_steps=200", "--clue_config.batch_size=64"]
LOOP = ["--max_steps=400", "--log_interval=100", "--eval_interval=200", "--eval_episodes=3",
        "--batch_size=32", "--notqdm"]


@pytest.fixture(scope="module")
def maze_file(tmp_path_factory):
    return generated.ensure_generated(ENV, cache_dir=str(tmp_path_factory.mktemp("data")),
                                      size=6000, seed=0)


def run(script, *args, cwd=ROOT, **env_vars):
    """`python script args` from `cwd` (env_vars added to its environment); its output."""
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", ""), **env_vars)
    proc = subprocess.run([sys.executable, script, *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_train_iql_smoke_and_reward_file(tmp_path, maze_file):
    out = run("train_iql.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
              f"--save_dir={tmp_path}", *TINY_IQL, *LOOP)
    run_dir = tmp_path / "iql-true" / ENV / "seed_42"
    rows = np.loadtxt(run_dir / "42.txt")
    assert rows[:, 0].tolist() == [200, 400]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["final_normalized_score"] == rows[-1, 1]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["iql"]["hidden_dims"] == [16, 16] and config["iql"]["expectile"] == 0.9
    prov = config["provenance"]  # what produced the run; never compared on --resume
    assert prov["versions"]["jax"] and prov["device"] and "commit" in prov
    # the data it learned from: its name, rows and fingerprint (obs and actions' SHA-256)
    from clue_jax.experiments import domains, records
    from clue_jax.rewards import storage
    dataset = domains.resolve_task(ENV, dataset_path=maze_file).dataset
    assert prov["data"] == {"name": ENV, "rows": dataset.size,
                            "sha256": storage.dataset_checksum(dataset)[:16]}
    assert prov["data"]["rows"] == 5994 and records.FINGERPRINT_HEX == 16
    assert "normalized score" in out and "Unable to initialize backend" not in out
    assert "reward functions were updated" not in out


def test_train_clue_sparse_then_iql_reuses_rewards(tmp_path, maze_file):
    out = run("train_clue.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
              f"--save_dir={tmp_path}", "--num_expert=2", *TINY_IQL, *TINY_CLUE, *LOOP)
    run_dir = tmp_path / "clue-sparse-K2" / ENV / "seed_42"
    for name in ("cvae.msgpack", "rewards.npz", "experts.json", "latent_embeddings.png",
                 "reward_correlation.png", "results.json", "42.txt"):
        assert (run_dir / name).exists(), name
    experts = json.loads((run_dir / "experts.json").read_text())
    assert len(experts["segments"]) == 2 and experts["expert_rule"] == "top_return"
    # the fingerprint of the chosen trajectories' transitions, not of the whole dataset
    data_sha = json.loads((run_dir / "config.json").read_text())["provenance"]["data"]["sha256"]
    assert len(experts["sha256"]) == 16 and experts["sha256"] != data_sha
    assert "OTR's rule" in experts["message"]
    with np.load(run_dir / "rewards.npz") as f:
        rewards = f["rewards"]
    assert rewards.shape == (5994,)  # 6000 rows less the 6 dropped timeout rows
    # exp(.) in (0, 1] (0 where float32 underflows far from z_e), then - 1
    assert np.all(rewards >= -1.0) and np.all(rewards <= 0.0) and np.any(rewards > -1.0)
    assert "clue-sparse-K2 seed 42: normalized score" in out
    # per-episode evaluation records (where each episode ended) and the goal-row diagnosis
    episodes = [json.loads(line) for line in
                (run_dir / "evaluation_episodes.jsonl").read_text().splitlines()]
    assert [e["step"] for e in episodes] == [200, 400]
    assert np.shape(episodes[0]["final_observations"]) == (3, 4)
    labels = json.loads((run_dir / "results.json").read_text())["labels"]
    goal_rows = d4rl_io.qlearning_dataset(d4rl_io.load_hdf5(maze_file))["rewards"] > 0
    assert labels["goal_rows"] == int(goal_rows.sum())
    np.testing.assert_allclose(labels["goal_rows_reward_mean"], rewards[goal_rows].mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(labels["other_rows_reward_mean"], rewards[~goal_rows].mean(),
                               rtol=1e-5)
    # the labelling summary is logged once, in its own stream, also after a resume
    from clue_jax.logging import read_scalars
    for attempt in range(2):
        if attempt:
            run("train_clue.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
                f"--save_dir={tmp_path}", "--num_expert=2", "--resume", *TINY_IQL, *TINY_CLUE,
                *LOOP)
        summary = read_scalars(run_dir / "tb" / "labels")
        assert summary["labels/goal_rows_reward_mean"] == [(0, pytest.approx(
            labels["goal_rows_reward_mean"]))]
        assert all(len(points) == 1 for points in summary.values())
        assert not any(t.startswith("clue/raw") for t in read_scalars(run_dir / "tb" / "cvae"))
    # train_iql.py trains on the saved rewards without retraining the CVAE
    run("train_iql.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
        f"--save_dir={tmp_path / 'reuse'}", f"--reward_file={run_dir / 'rewards.npz'}",
        *TINY_IQL, *LOOP)
    # ... and refuses a reward file made for other data
    bad = subprocess.run([sys.executable, "train_iql.py", f"--env_name={ENV}",
                          f"--dataset_path={maze_file}", "--dataset_fraction=0.5",
                          f"--save_dir={tmp_path / 'bad'}", f"--reward_file={run_dir / 'rewards.npz'}",
                          *TINY_IQL, *LOOP], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "rewards but the dataset has" in bad.stderr


def test_clue_reward_signal_relabels_a_runs_cvae(tmp_path, maze_file):
    run("train_clue.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
        f"--save_dir={tmp_path}", "--seed=3", *TINY_IQL, *TINY_CLUE, "--max_steps=100",
        "--log_interval=100", "--eval_interval=100", "--eval_episodes=1", "--notqdm")
    run_dir = tmp_path / "clue-sparse-K1" / ENV / "seed_3"
    out = run("scripts/clue_reward_signal.py", f"--run={run_dir}",
              "--variants=mean:10,sample:10,sample:1", f"--save={tmp_path / 'signal'}")
    with np.load(run_dir / "rewards.npz") as f:
        own, meta = f["rewards"], json.loads(str(f["metadata"]))
    saved = {}
    for name in ("mean_c10", "sample_c10", "sample_c1"):
        with np.load(tmp_path / "signal" / f"rewards_{name}.npz") as f:
            saved[name] = f["rewards"]
    # the run's own labelling (z = mean, c = 10) again, from its CVAE file
    np.testing.assert_allclose(saved["mean_c10"], own, atol=1e-6)
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in out.splitlines()
            if line.startswith("| mean:") or line.startswith("| sample:")}
    assert set(rows) == {"mean:10", "sample:10", "sample:1"}, out
    assert rows["mean:10"][2] == f"{meta['raw_reward_std']:.3f}"
    assert float(rows["mean:10"][1]) == pytest.approx(own.mean() + 1, abs=1e-3)  # raw = r + 1
    # the same samples (the run's key) at c = 10 and c = 1: exp(-10 d) < exp(-d) for d > 0
    assert saved["sample_c10"].mean() < saved["sample_c1"].mean()
    assert np.all(saved["sample_c10"] >= -1.0) and np.all(saved["sample_c10"] <= 0.0)
    assert "encoder: |z_e|" in out and "data_sigma_mean" in out and "(200 updates)" in out
    # a variant it does not know is refused, naming it and the form expected
    bad = subprocess.run([sys.executable, "scripts/clue_reward_signal.py",
                          f"--run={run_dir}", "--variants=median:3"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "'median:3' is not 'mean:<c>'" in bad.stderr


def test_returns_to_go_worked_by_hand():
    sys.path.insert(0, str(ROOT / "scripts"))
    from value_check import returns_to_go, steps_to_end

    # a trajectory that ends at a terminal (3 rows), then one cut by a time limit (2 rows)
    rewards, masks = np.array([1.0, 1.0, 1.0, 2.0, 2.0]), np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    dones = np.array([0.0, 0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(returns_to_go(rewards, masks, dones, 0.5),
                               [1 + 0.5 * 1.5, 1 + 0.5 * 1, 1, 2 + 0.5 * 2, 2])
    steps, last = steps_to_end(dones)
    assert steps.tolist() == [2, 1, 0, 1, 0] and last.tolist() == [2, 2, 2, 4, 4]


def test_value_check_reads_an_iql_runs_critic_against_the_datas_returns(tmp_path, maze_file):
    run("train_iql.py", f"--env_name={ENV}", f"--dataset_path={maze_file}", f"--save_dir={tmp_path}",
        "--seed=2", *TINY_IQL, "--config.discount=0.9", "--max_steps=200", "--log_interval=100",
        "--eval_interval=200", "--eval_episodes=1", "--notqdm")
    run_dir = tmp_path / "iql-true" / ENV / "seed_2"
    out = run("scripts/value_check.py", f"--run={run_dir}", "--rows=0", "--bins=0,5,1000")
    # the oracle: the data's discounted return-to-go row by row, AntMaze's r - 1 per row
    from clue_jax import checkpoints, networks
    from clue_jax.experiments import domains
    data = domains.resolve_task(ENV, dataset_path=maze_file).dataset

    def oracle(rewards):
        g, following = np.zeros(data.size), 0.0
        for i in range(data.size - 1, -1, -1):
            following = 0.0 if data.dones_float[i] else following
            following = rewards[i] + 0.9 * data.masks[i] * following
            g[i] = following
        return g
    g = oracle(data.rewards - 1.0)
    agent = checkpoints.load_raw(run_dir / "checkpoint.msgpack")["agent"]
    v = np.asarray(networks.ValueCritic((16, 16)).apply({"params": agent["value"]["params"]},
                                                        data.observations), np.float64)
    row = next(line for line in out.splitlines() if line.startswith("| all |")).split(" | ")
    assert float(row[1]) == pytest.approx(v.mean(), abs=0.006)
    assert float(row[3]) == pytest.approx(g.mean(), abs=0.006)
    assert float(row[4]) == pytest.approx((v - g).mean(), abs=0.006)
    assert "200 updates, discount 0.9" in out and f"{data.size} of {data.size} rows" in out
    assert "| [0, 5) |" in out and "| [5, 1000) |" in out
    # a constant run keeps no rewards.npz: its labeller makes them again from the run's
    # config (0.5 + AntMaze's shift -1 on every row), and G follows them
    run("train_iql.py", f"--env_name={ENV}", f"--dataset_path={maze_file}", f"--save_dir={tmp_path}",
        "--seed=2", "--labeller=constant", "--constant_config.value=0.5", *TINY_IQL,
        "--config.discount=0.9", "--max_steps=100", "--log_interval=100", "--eval_interval=100",
        "--eval_episodes=1", "--notqdm")
    constant_dir = tmp_path / "constant-sparse-K1" / ENV / "seed_2"
    assert not (constant_dir / "rewards.npz").exists()
    out = run("scripts/value_check.py", f"--run={constant_dir}", "--rows=0")
    g = oracle(np.full(data.size, -0.5))
    row = next(line for line in out.splitlines() if line.startswith("| all |")).split(" | ")
    assert float(row[3]) == pytest.approx(g.mean(), abs=0.006)
    assert "mean -0.5000" in out
    # a folder that is not an IQL run, bad bins, and rewards of other rows are refused with
    # the flag named
    import shutil
    other = tmp_path / "other_rows" / "seed_2"
    shutil.copytree(run_dir, other)
    np.savez(other / "rewards.npz", rewards=np.zeros(3, np.float32), n=np.int64(3),
             checksum=np.array("x"))
    lost = tmp_path / "lost" / "seed_2"  # a labeller that read demonstrations, its file gone
    shutil.copytree(constant_dir, lost)
    record = json.loads((lost / "config.json").read_text())
    record["settings"]["labeller"] = "otr"
    (lost / "config.json").write_text(json.dumps(record))
    for flags, named in (([f"--run={tmp_path}"], "not a run folder"),
                         ([f"--run={run_dir}", "--bins=5,5"], "--bins=5,5"),
                         ([f"--run={other}"], "holds 3 rewards but the dataset has"),
                         ([f"--run={lost}"], "'otr' run without its rewards.npz")):
        bad = subprocess.run([sys.executable, "scripts/value_check.py", *flags], cwd=ROOT,
                             capture_output=True, text=True)
        assert bad.returncode != 0 and named in bad.stderr, bad.stderr


def test_train_clue_study_variant_goal_segments_tag_and_config_fields(tmp_path, maze_file):
    run("train_clue.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
        f"--save_dir={tmp_path}", "--expert_selection=goal_segments", "--tag=rr",
        *TINY_IQL, *TINY_CLUE, "--clue_config.reward_scaling=return_range",
        "--clue_config.reward_shift=-1.0", "--clue_config.calib_reduction=mean", *LOOP)
    run_dir = tmp_path / "clue-sparse-K1-goal_segments-rr" / ENV / "seed_42"
    config = json.loads((run_dir / "config.json").read_text())["labeller_config"]
    assert (config["reward_scaling"], config["reward_shift"], config["calib_reduction"]) == (
        "return_range", -1.0, "mean")
    experts = json.loads((run_dir / "experts.json").read_text())
    assert experts["expert_selection"] == "goal_segments"
    (start, end), = experts["segments"]
    goals = d4rl_io.qlearning_dataset(d4rl_io.load_hdf5(maze_file),
                                      carry=("infos/goal",))["infos/goal"]
    assert np.all(goals[start:end] == goals[start])  # one goal throughout the expert segment


def test_clue_study_tables_and_figures_from_a_tiny_grid(tmp_path, maze_file):
    """scripts/clue_study.py on a grid of 2 runs (CLUE calibrated and not, as reproduce.py
    lays them out): the study row holds both scores, the expert's start distance and the
    goal-row gap, and every figure is written."""
    grid = tmp_path / "grid"
    for flag in ("--calibrate", "--nocalibrate"):
        run("train_clue.py", f"--env_name={ENV}", f"--dataset_path={maze_file}", "--seed=0",
            f"--save_dir={grid}", flag, "--expert_selection=episodes", *TINY_IQL, *TINY_CLUE,
            *LOOP)
    run("scripts/clue_study.py", f"--grid={grid}", f"--out={tmp_path / 'out'}",
        f"--tasks={ENV}", "--variants=episodes")
    study = (tmp_path / "out" / "study.md").read_text()
    row = next(line for line in study.splitlines() if line.startswith("| episodes |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1].endswith("(n=1)") and cells[2].endswith("(n=1)")  # calibrated, not
    experts = json.loads((grid / "clue-sparse-K1-episodes" / ENV / "seed_0" / "experts.json")
                         .read_text())
    first = experts["segments"][0][0]
    from clue_jax.experiments import domains
    xy = domains.load_dataset(ENV, dataset_path=str(maze_file)).observations[first, :2]
    assert cells[5] == f"[{np.linalg.norm(xy - np.array([1.0, 1.0])):.1f}]"  # umaze start (1, 1)
    assert "±" in cells[3]  # goal-row gap, raw units
    for name in ("fig4.png", "ends.png", "starts.png", "experts.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    # --final: one row per (task, method) with each seed's score, same numbers as study.md
    run("scripts/clue_study.py", "--final", f"--grid={grid}", f"--out={tmp_path / 'final'}",
        f"--tasks={ENV}", "--methods=clue-episodes,clue-episodes-nocalib,clue")
    final = (tmp_path / "final" / "final.md").read_text().splitlines()
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in final if line.startswith(f"| {ENV} |")}
    assert rows["clue-episodes"][2] == cells[1] and rows["clue-episodes-nocalib"][2] == cells[2]
    assert rows["clue-episodes"][3].startswith("0: ")  # seed 0's score
    assert rows["clue"][2] == "–" and rows["clue"][7] == "–"  # no runs: no numbers
    for name in ("final.png", "final_ends.png"):
        assert (tmp_path / "final" / name).stat().st_size > 0


def _demo_file(maze_file, path, reward_value=None):
    """Demonstrations in D4RL layout: the first 3 episodes of the maze file."""
    raw = d4rl_io.load_hdf5(maze_file)
    keep = {k: v[:3000] for k, v in raw.items() if not k.startswith("metadata/")}
    d4rl_io.save_hdf5(path, keep)
    return path


def _with_rewards(maze_file, path, rewards_fn):
    raw = {k: v for k, v in d4rl_io.load_hdf5(maze_file).items() if not k.startswith("metadata/")}
    raw["rewards"] = rewards_fn(raw["rewards"]).astype(np.float32)
    d4rl_io.save_hdf5(path, raw)
    return str(path)


def test_train_clue_imitation_never_reads_dataset_rewards(tmp_path, maze_file):
    demos = _demo_file(maze_file, tmp_path / "demos.hdf5")
    rng = np.random.default_rng(0)
    files = [_with_rewards(maze_file, tmp_path / "a.hdf5", lambda r: r),
             _with_rewards(maze_file, tmp_path / "b.hdf5", lambda r: rng.normal(size=r.shape) * 1e3)]
    labelled = []
    for i, path in enumerate(files):
        run("train_clue.py", "--setting=imitation", f"--env_name={ENV}", f"--dataset_path={path}",
            f"--expert_dataset={demos}", "--num_expert=2", f"--save_dir={tmp_path / str(i)}",
            *TINY_IQL, *TINY_CLUE, *LOOP)
        run_dir = tmp_path / str(i) / "clue-imitation-K2" / ENV / "seed_42"
        with np.load(run_dir / "rewards.npz") as f:
            labelled.append(f["rewards"])
        assert not (run_dir / "reward_correlation.png").exists()
    assert np.all(np.isfinite(labelled[0]))
    np.testing.assert_array_equal(labelled[0], labelled[1])  # the file's rewards changed nothing


def test_clue_reward_signal_rebuilds_an_imitation_runs_demonstrations(tmp_path, maze_file):
    demos = _demo_file(maze_file, tmp_path / "demos.hdf5")
    run("train_clue.py", "--setting=imitation", f"--env_name={ENV}", f"--dataset_path={maze_file}",
        f"--expert_dataset={demos}", "--num_expert=2", f"--save_dir={tmp_path}", "--seed=5",
        *TINY_IQL, *TINY_CLUE, "--max_steps=100", "--log_interval=100", "--eval_interval=100",
        "--eval_episodes=1", "--notqdm")
    run_dir = tmp_path / "clue-imitation-K2" / ENV / "seed_5"
    out = run("scripts/clue_reward_signal.py", f"--run={run_dir}", "--variants=mean:10,mean:1",
              f"--save={tmp_path / 'signal'}")
    with np.load(run_dir / "rewards.npz") as f:
        own = f["rewards"]
    with np.load(tmp_path / "signal" / "rewards_mean_c10.npz") as f:
        np.testing.assert_allclose(f["rewards"], own, atol=1e-6)  # the run's labelling again
    head = next(line for line in out.splitlines() if line.startswith("| variant"))
    assert "below 0.001" in head and "rho(trajectory return)" in head, out
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in out.splitlines()
            if line.startswith("| mean:")}
    # one temperature ranks the rows as the other (exp(-c d^2) is monotone in d; only rows
    # whose float32 reward underflows to 0 at c = 10 could tie), and a lower c leaves fewer
    # rows at the floor
    assert float(rows["mean:10"][4]) == pytest.approx(float(rows["mean:1"][4]), abs=0.02)
    assert float(rows["mean:1"][3]) <= float(rows["mean:10"][3])
    # experts rebuilt from other demonstrations than the run's are refused, not relabelled
    record = json.loads((run_dir / "experts.json").read_text())
    (run_dir / "experts.json").write_text(json.dumps(dict(record, sha256="0" * 16)))
    bad = subprocess.run([sys.executable, "scripts/clue_reward_signal.py", f"--run={run_dir}"],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "is not the one the run learned from" in bad.stderr
    assert "experts rebuilt here" in bad.stderr


def test_train_clue_unsupervised_skills(tmp_path, maze_file):
    run("train_clue.py", "--setting=unsupervised", f"--env_name={ENV}",
        f"--dataset_path={maze_file}", "--n_clusters=5", "--skills=0,3",
        f"--save_dir={tmp_path}", *TINY_IQL, *TINY_CLUE, *LOOP)
    run_dir = tmp_path / "clue-unsupervised" / ENV / "seed_42"
    rows = json.loads((run_dir / "skills.json").read_text())
    assert [r["skill"] for r in rows] == [0, 3]
    labels = np.load(run_dir / "kmeans_labels.npy")
    assert [r["cluster_size"] for r in rows] == [int((labels == 0).sum()), int((labels == 3).sum())]
    assert all(len(r["mean_velocity_xy"]) == 2 for r in rows)
    assert (run_dir / "skills.png").exists() and "| skill |" in (run_dir / "skills.md").read_text()
    config = json.loads((run_dir / "config.json").read_text())  # the whole run's settings
    assert config["skills"] == [0, 3] and config["settings"]["setting"] == "unsupervised"
    assert config["labeller_config"]["calibrate"] and config["provenance"]["versions"]["jax"]


def test_train_iql_otr_labeller_sparse(tmp_path, maze_file):
    out = run("train_iql.py", "--labeller=otr", f"--env_name={ENV}", f"--dataset_path={maze_file}",
              f"--save_dir={tmp_path}", "--num_expert=1", *TINY_IQL, *LOOP)
    run_dir = tmp_path / "otr-sparse-K1" / ENV / "seed_42"
    with np.load(run_dir / "rewards.npz") as f:
        rewards = f["rewards"]
    assert rewards.shape == (5994,) and np.all(np.isfinite(rewards))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["labeller"] == "otr" and results["labels"]["beta_eff"] == 1000.0
    assert "otr-sparse-K1 seed 42: normalized score" in out


def test_train_td3bc_on_untouched_true_rewards(tmp_path, maze_file):
    out = run("train_td3bc.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
              f"--save_dir={tmp_path}", "--config=configs/td3bc_config.py",
              "--config.hidden_dims=(16,16)", *LOOP)
    run_dir = tmp_path / "td3bc-true" / ENV / "seed_42"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["agent"] == "td3bc" and len(results["history"]) == 2
    config = json.loads((run_dir / "config.json").read_text())
    assert config["td3bc"]["alpha"] == 2.5 and config["td3bc"]["hidden_dims"] == [16, 16]
    # TD3+BC's reference leaves rewards untouched (IQL's antmaze rule would subtract 1)
    assert config["labeller_config"] == {"reward_scaling": "none", "reward_shift": 0.0}
    assert "td3bc-true seed 42: normalized score" in out


def test_bad_flag_fails_before_any_work_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "train_iql.py", "--labeller=otr", "--num_expert=0",
                           f"--save_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and "--num_expert=0: expected K >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())


def test_unknown_env_name_suggests(tmp_path):
    proc = subprocess.run([sys.executable, "train_iql.py", "--env_name=antmaze-larg-play-v2",
                           f"--save_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "antmaze-large-play-v2" in proc.stderr


def test_generated_locomotion_iql_and_clue_imitation_with_shipped_demos(tmp_path):
    """gen-hopper-medium-v0 (tiny) with the shipped SAC policies; imitation picks the
    shipped expert's demonstrations by default, generated into the same cache."""
    name, cache = "gen-hopper-medium-v0", tmp_path / "cache"
    data = generated.ensure_generated(name, cache_dir=str(cache), size=3000, seed=0)
    mujoco_tiny = ["--config=configs/mujoco_config.py", "--config.hidden_dims=(16,16)"]
    clue_tiny = ["--clue_config=configs/clue_config.py:locomotion",
                 "--clue_config.hidden_dims=(16,16)", "--clue_config.num_steps=200",
                 "--clue_config.batch_size=64"]
    os.environ["CLUE_JAX_DATA_DIR"] = str(cache)  # the subprocesses' demonstration cache
    try:
        out = run("train_iql.py", f"--env_name={name}", f"--dataset_path={data}",
                  f"--save_dir={tmp_path}", *mujoco_tiny, *LOOP)
        assert "normalized score" in out
        run("train_clue.py", "--setting=imitation", f"--env_name={name}",
            f"--dataset_path={data}", "--num_expert=2", f"--save_dir={tmp_path}",
            *mujoco_tiny, *clue_tiny, *LOOP)
    finally:
        del os.environ["CLUE_JAX_DATA_DIR"]
    run_dir = tmp_path / "clue-imitation-K2" / name / "seed_42"
    experts = json.loads((run_dir / "experts.json").read_text())
    demos = d4rl_io.load_hdf5(generated.dataset_path("gen-hopper-expert-demos-v0", str(cache)))
    ends = np.flatnonzero(demos["terminals"] | demos["timeouts"]) + 1
    # the first two whole expert episodes, less their timeout rows (qlearning_dataset drops them)
    assert experts["num_transitions"] == ends[1] - demos["timeouts"][:ends[1]].sum() > 0
    with np.load(run_dir / "rewards.npz") as f:
        size = json.loads((run_dir / "config.json").read_text())["dataset_size"]
        assert 2990 < size < 3000  # the 3 env streams' timeout rows are dropped
        assert f["rewards"].shape == (size,) and np.all(np.isfinite(f["rewards"]))
    assert np.loadtxt(tmp_path / "iql-true" / name / "seed_42" / "42.txt").shape == (2, 2)


@pytest.mark.parametrize("algo", ["smodice", "demodice", "valuedice", "iqlearn"])
def test_train_dice_smoke(tmp_path, maze_file, algo):
    tiny = [f"--config=configs/{algo}_config.py", "--config.hidden_dims=(16,16)"]
    if algo == "smodice":
        tiny += ["--oril_config=configs/oril_config.py", "--oril_config.iterations=2"]
    out = run("train_dice.py", f"--algo={algo}", f"--env_name={ENV}", "--setting=sparse",
              f"--dataset_path={maze_file}", f"--save_dir={tmp_path}", *tiny,
              "--max_steps=40", "--log_interval=20", "--eval_interval=20", "--eval_episodes=2",
              "--notqdm")
    method = {"smodice": "smodice-oril-sparse-K1"}.get(algo, f"{algo}-sparse-K1")
    run_dir = tmp_path / method / ENV / "seed_42"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["agent"] == algo and len(results["history"]) == 2
    config = json.loads((run_dir / "config.json").read_text())
    # the reference batch size of each learner, and the union = dataset + the chosen expert
    assert config["loop"]["batch_size"] == (512 if algo in ("smodice", "demodice") else 256)
    experts = json.loads((run_dir / "experts.json").read_text())
    assert config["dataset_size"] + experts["num_transitions"] > config["dataset_size"]
    assert f"{method} seed 42: normalized score" in out


def test_train_dice_refuses_a_reward_labeller_and_none_for_iql(tmp_path, maze_file):
    proc = subprocess.run([sys.executable, "train_dice.py", "--algo=demodice", "--labeller=clue",
                           f"--save_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "--labeller=none" in proc.stderr
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())
    proc = subprocess.run([sys.executable, "train_iql.py", "--labeller=none",
                           f"--save_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "gives no rewards" in proc.stderr


def test_config_field_overrides_work_without_naming_the_file():
    from clue_jax.experiments import flags as run_flags
    from configs import antmaze_config, clue_config, iqlearn_config
    s = run_flags.parse_settings(["train_iql.py", f"--env_name={ENV}", "--config.expectile=0.8"])
    want = antmaze_config.get_config()  # the generated mazes use IQL's antmaze config
    want.expectile = 0.8
    assert s.agent_config.to_dict() == want.to_dict()
    s = run_flags.parse_settings(["train_clue.py", f"--env_name={ENV}",
                                  "--clue_config.temperature=3"], default_labeller="clue")
    want = clue_config.get_config("pointmaze")
    want.temperature = 3.0
    assert s.labeller_config.to_dict() == want.to_dict()
    s = run_flags.parse_settings(["train_iql.py", "--agent=iqlearn", "--labeller=none",
                                  "--config.value_loss=value"])
    assert s.agent_config.value_loss == "value"
    assert s.agent_config.actor_lr == iqlearn_config.get_config().actor_lr
    # naming the file still works, and its overrides apply to it
    s = run_flags.parse_settings(["train_iql.py", "--config=configs/mujoco_config.py",
                                  "--config.expectile=0.6"])
    assert s.agent_config.expectile == 0.6 and s.agent_config.temperature == 3.0
    # a None field (no dropout by default) takes a typed value, as the README shows
    s = run_flags.parse_settings(["train_iql.py", "--env_name=hopper-medium-v2",
                                  "--config.dropout_rate=0.2"])
    assert s.agent_config.dropout_rate == 0.2


BAD_INPUTS = [  # (script, flags, what the message must name)
    ("train_iql.py", ["--seed=-1"], "--seed"),
    ("train_iql.py", ["--max_steps=0"], "--max_steps"),
    ("train_iql.py", ["--eval_interval=0"], "--eval_interval"),
    ("train_iql.py", ["--log_interval=0"], "--log_interval"),
    ("train_iql.py", ["--batch_size=0"], "--batch_size"),
    ("train_iql.py", ["--dataset_fraction=0"], "--dataset_fraction"),
    ("train_clue.py", ["--temperature=-1"], "--temperature"),
    ("train_clue.py", ["--num_expert=0"], "--num_expert"),
    ("train_iql.py", ["--labeller=none"], "--labeller=none"),
    ("train_dice.py", ["--algo=valuedice", "--labeller=otr"], "--labeller=none"),
    ("train_td3bc.py", ["--labeller=sqil", "--setting=unsupervised"], "--setting"),
    ("train_iql.py", ["--reward_file=/nonexistent/rewards.npz"], "rewards.npz"),
    ("train_clue.py", ["--setting=imitation", "--expert_dataset=/nonexistent/demos.hdf5"],
     "demos.hdf5"),
    ("train_clue.py", ["--tag=a/b"], "--tag"),
    ("train_iql.py", ["--config.expectilee=0.5"], "'expectile'"),
    ("train_iql.py", ["--config=configs/antmaze_config.py", "--config.expectilee=0.5"],
     "--config.expectilee"),
    ("train_clue.py", ["--clue_config.calib_weightt=1"], "'calib_weight'"),
    ("train_iql.py", ["--config.hidden_dims.x=1"], "--config.hidden_dims=<value>"),
    ("train_iql.py", ["--env_name=minari:nope/none-v0"], "--env_name=minari:nope/none-v0"),
    ("train_clue.py", ["--setting=imitation", "--expert_selection=goal_segments"],
     "--expert_selection=goal_segments"),
    ("train_clue.py", ["--setting=imitation", "--expert_selection=episodes"],
     "--expert_selection=episodes"),
    # labeller config fields out of range (Labeller.config_rules), before any folder
    ("train_clue.py", ["--clue_config.calib_reduction=median"],
     "--clue_config.calib_reduction='median': expected one of ('sum', 'mean')"),
    ("train_clue.py", ["--clue_config.vae_data=both"], "--clue_config.vae_data"),
    ("train_clue.py", ["--clue_config.reward_scaling=minmax"], "--clue_config.reward_scaling"),
    ("train_iql.py", ["--labeller=otr", "--otr_config.epsilon=0"], "--otr_config.epsilon=0.0"),
    ("train_td3bc.py", ["--labeller=oril", "--setting=imitation", "--oril_config.state_only=False"],
     "no working (s, a) discriminator"),
    # learner config fields out of range (AgentSpec.config_rules)
    ("train_iql.py", ["--config.expectile=1.5"], "--config.expectile=1.5: expected a number in"),
    ("train_iql.py", ["--config.opt_decay_schedule=linear"], "--config.opt_decay_schedule='linear'"),
    ("train_td3bc.py", ["--config.policy_freq=0"], "--config.policy_freq=0"),
    ("train_dice.py", ["--algo=demodice", "--config.discount=1.5"], "--config.discount=1.5"),
    # runs that could only be meaningless, and errors that named the wrong cause
    ("train_iql.py", ["--dataset_fraction=1e-9"], "after --dataset_fraction=1e-09"),
    ("train_iql.py", ["--batch_size=100000"], "--batch_size=100000"),
    ("train_td3bc.py", ["--config.max_action=0"], "--config.max_action=0.0: expected"),
    ("train_td3bc.py", ["--config.max_action=nan"], "--config.max_action=nan: expected"),
    ("train_iql.py", ["--config.hidden_dims=(0,16)"], "--config.hidden_dims=(0, 16)"),
    ("train_iql.py", ["--config=configs/nope.py"], "--config=configs/nope.py: cannot load"),
    # a config file's key it refuses, and a flag of the wrong type: one line, no traceback
    ("train_clue.py", ["--clue_config=configs/clue_config.py:foo"], "unknown domain 'foo'"),
    ("train_iql.py", ["--labeller=constant", "--constant_config=configs/constant_config.py:x"],
     "the key after the colon is the reward shift"),
    ("train_iql.py", ["--labeller=constant", "--constant_config.value=inf"],
     "--constant_config.value=inf"),
    ("train_iql.py", ["--max_steps=abc"], "flag --max_steps=abc: invalid literal"),
    ("train_clue.py", ["--setting=unsupervised", "--skills=abc"], "--skills='abc'"),
    ("train_clue.py", ["--setting=unsupervised", "--skills=500"], "--skills='500'"),
    ("train_iql.py", ["--resume_anyway"], "needs --resume"),
    ("train_iql.py", ["--log_interval=997", "--eval_interval=1009"], "--log_interval=997"),
    ("train_clue.py", ["--setting=imitation", "--env_name=hopper-medium-v2"],
     "needs --expert_dataset"),
    ("train_clue.py", ["--setting=imitation", "--num_expert=1000"], "--num_expert=1000"),
    ("train_iql.py", ["--dataset_path=/tmp"], "--dataset_path=/tmp: a folder"),
    ("train_clue.py", ["--setting=imitation", "--expert_dataset=/tmp"],
     "--expert_dataset=/tmp: a folder"),
    ("train_iql.py", ["--save_dir=/etc/hostname"], "/etc/hostname is a file"),
    ("train_clue.py", ["--setting=imitation", "--expert_dataset=/etc/hostname"],
     "--expert_dataset=/etc/hostname: /etc/hostname: cannot be read as HDF5"),
    ("train_iql.py", ["--eval_backend=device"], "--eval_backend=device runs the hopper"),
]


@pytest.mark.parametrize("script,flags,named", BAD_INPUTS,
                         ids=[f"{s}:{' '.join(f)}" for s, f, _ in BAD_INPUTS])
def test_bad_input_fails_before_any_work(tmp_path, maze_file, script, flags, named):
    save_dir = tmp_path / "runs"
    proc = subprocess.run([sys.executable, script, f"--env_name={ENV}",
                           f"--dataset_path={maze_file}", f"--save_dir={save_dir}", *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert named in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert not save_dir.exists() or not any(save_dir.rglob("*")), list(save_dir.rglob("*"))


@pytest.mark.parametrize("change,flags,named", [
    ("drop_goals", ["--expert_selection=goal_segments"], "infos/goal"),
    ("zero_rewards", [], "no successful trajectory"),
], ids=["no infos/goal", "no success"])
def test_data_without_experts_fails_before_any_folder(tmp_path, maze_file, change, flags, named):
    """The sparse setting's experts are chosen before any run folder is made."""
    import shutil
    import h5py
    path = tmp_path / "maze.hdf5"
    shutil.copy(maze_file, path)
    with h5py.File(path, "r+") as f:
        if change == "drop_goals":
            del f["infos/goal"]
        else:
            f["rewards"][...] = 0.0
    save_dir = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "train_clue.py", f"--env_name={ENV}",
                           f"--dataset_path={path}", f"--save_dir={save_dir}", *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and named in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert not save_dir.exists() or not any(save_dir.rglob("*")), list(save_dir.rglob("*"))


def test_bad_reward_file_content_fails_before_any_work(tmp_path, maze_file):
    np.savez(tmp_path / "rewards.npz", rewards=np.zeros(3, np.float32), n=np.int64(3))
    save_dir = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "train_iql.py", f"--env_name={ENV}",
                           f"--dataset_path={maze_file}", f"--save_dir={save_dir}",
                           f"--reward_file={tmp_path / 'rewards.npz'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "rewards.npz" in proc.stderr
    assert "Traceback" not in proc.stderr and not save_dir.exists()


@pytest.mark.parametrize("script", ["train_iql.py", "train_clue.py", "train_td3bc.py",
                                    "train_dice.py"])
def test_help_lists_every_run_flag(script):
    proc = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    for flag in ("--env_name", "--max_steps", "--save_dir", "--labeller", "--num_expert",
                 "--resume"):
        assert flag in proc.stdout + proc.stderr, (script, flag)


MAKE_MINARI = """
import sys, gymnasium, minari, numpy as np
env = minari.DataCollector(gymnasium.make("MountainCarContinuous-v0", max_episode_steps=60))
rng = np.random.default_rng(0)
for episode in range(5):
    env.reset(seed=episode)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        done = terminated or truncated
refs = dict(ref_min_score=-10.0, ref_max_score=90.0) if sys.argv[2] == "refs" else {}
env.create_dataset(sys.argv[1], algorithm_name="random", **refs)
"""


def test_minari_dataset_end_to_end_from_the_command_line(tmp_path):
    """minari:<id> names the data AND the env: spec, episode length and reference scores come
    from the local dataset's metadata; one without reference scores is refused up front."""
    env = dict(os.environ, MINARI_DATASETS_PATH=str(tmp_path / "minari"))
    for dataset_id, refs in (("test/mcc/tiny-v0", "refs"), ("test/mcc/norefs-v0", "none")):
        subprocess.run([sys.executable, "-c", MAKE_MINARI, dataset_id, refs], env=env,
                       check=True, capture_output=True, timeout=300)
    name = "minari:test/mcc/tiny-v0"
    proc = subprocess.run([sys.executable, "train_iql.py", f"--env_name={name}",
                           f"--save_dir={tmp_path / 'runs'}", *TINY_IQL, *LOOP], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "iql-true" / name / "seed_42"
    results = json.loads((run_dir / "results.json").read_text())
    assert [step for step, _ in results["history"]] == [200, 400]
    episodes = (run_dir / "evaluation_episodes.jsonl").read_text().splitlines()
    returns = np.array(json.loads(episodes[-1])["returns"])
    assert np.all(json.loads(episodes[-1])["lengths"] <= np.array(60))  # the dataset's env spec
    np.testing.assert_allclose(results["final_normalized_score"],
                               100 * (returns.mean() + 10.0) / 100.0, atol=0.051)
    bad = subprocess.run([sys.executable, "train_iql.py", "--env_name=minari:test/mcc/norefs-v0",
                          f"--save_dir={tmp_path / 'bad'}", *TINY_IQL, *LOOP], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "ref_min_score" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_seeds_vmapped_and_sharded_equal_separate_runs(tmp_path, maze_file):
    """train_clue.py --seeds=0,1 on 2 (host) devices: each seed's folder and numbers are a
    separate --seed run's (experts per seed, the CVAEs trained as one vmapped program, the
    agents as one sharded vmapped program)."""
    common = [f"--env_name={ENV}", f"--dataset_path={maze_file}", *TINY_IQL, *TINY_CLUE, *LOOP]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, "train_clue.py", "--seeds=0,1",
                           f"--save_dir={tmp_path / 'v'}", *common], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 seeds sharded over 2 devices (cpu)" in proc.stdout + proc.stderr
    for seed in (0, 1):
        run("train_clue.py", f"--seed={seed}", f"--save_dir={tmp_path / 's'}", *common)
        vmapped = tmp_path / "v" / "clue-sparse-K1" / ENV / f"seed_{seed}"
        separate = tmp_path / "s" / "clue-sparse-K1" / ENV / f"seed_{seed}"
        assert sorted(p.name for p in vmapped.iterdir()) == sorted(
            p.name for p in separate.iterdir())
        a, b = (json.loads((d / "results.json").read_text()) for d in (vmapped, separate))
        assert a["seed"] == seed and a["experts"] == b["experts"]
        assert a["labels"].keys() == b["labels"].keys()  # the CVAEs trained vmapped too
        np.testing.assert_allclose(list(a["labels"].values()), list(b["labels"].values()),
                                   rtol=1e-3, atol=1e-4)
        assert [s for s, _ in a["history"]] == [s for s, _ in b["history"]] == [200, 400]
        np.testing.assert_allclose([v for _, v in a["history"]], [v for _, v in b["history"]],
                                   atol=1e-6)
        ca, cb = (json.loads((d / "config.json").read_text()) for d in (vmapped, separate))
        for c in (ca, cb):
            c.pop("provenance"), c["settings"].pop("save_dir")
        assert ca == cb
    bad = subprocess.run([sys.executable, "train_clue.py", "--seeds=0,x",
                          f"--save_dir={tmp_path / 'bad'}", *common], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--seeds=0,x" in bad.stderr and "Traceback" not in bad.stderr


def test_a_dataset_group_equals_separate_runs(tmp_path, maze_file):
    """train_iql.py --plan_file: CLUE with K = 1 and 2, seeds 0 and 1, and IQL on the true
    rewards, one dataset: the five runs' agents train as one vmapped program (their CVAEs as
    one), and every run folder holds a separate run's numbers."""
    common = [f"--env_name={ENV}", f"--dataset_path={maze_file}", *TINY_IQL, *LOOP]
    members = [[*common, "--labeller=clue", f"--num_expert={k}", f"--seed={seed}", *TINY_CLUE,
                f"--save_dir={tmp_path / 'g'}"] for k in (1, 2) for seed in (0, 1)]
    members.append([*common, "--labeller=true", "--seed=0", f"--save_dir={tmp_path / 'g'}"])
    plan_file = tmp_path / "plan.json"
    write_plan_file(plan_file, [parse_settings(["train_iql.py", *m]) for m in members])
    out = run("train_iql.py", f"--plan_file={plan_file}")
    assert "iql: 5 runs train as one vmapped program" in out
    for member in members:
        separate = [a.replace(str(tmp_path / "g"), str(tmp_path / "s")) for a in member]
        run("train_iql.py", *separate)
    done = sorted((tmp_path / "g").glob("*/*/seed_*"))
    assert len(done) == 5
    for grouped in done:
        alone = tmp_path / "s" / grouped.relative_to(tmp_path / "g")
        assert sorted(p.name for p in grouped.iterdir()) == sorted(p.name for p in alone.iterdir())
        a, b = (json.loads((d / "results.json").read_text()) for d in (grouped, alone))
        assert a.get("experts") == b.get("experts") and a["labels"].keys() == b["labels"].keys()
        np.testing.assert_allclose(list(a["labels"].values()), list(b["labels"].values()),
                                   rtol=1e-3, atol=1e-4)
        assert [s for s, _ in a["history"]] == [s for s, _ in b["history"]] == [200, 400]
        np.testing.assert_allclose([v for _, v in a["history"]], [v for _, v in b["history"]],
                                   atol=1e-6)
        ra, rb = (np.load(d / "rewards.npz")["rewards"] if (d / "rewards.npz").exists()
                  else None for d in (grouped, alone))
        if ra is not None:
            np.testing.assert_allclose(ra, rb, rtol=1e-3, atol=1e-4)
        # each run names its own programs: the five trained together, the CLUE runs labelled
        # together (one CVAE program), 400 updates each, every evaluation step counted
        clue = a["labeller"] == "clue"
        assert a["timing"]["training"]["runs"] == 5 and b["timing"]["training"]["runs"] == 1
        assert a["timing"]["labelling"]["runs"] == (4 if clue else 1)
        episodes = [json.loads(line)["lengths"] for line in
                    (alone / "evaluation_episodes.jsonl").read_text().splitlines()]
        assert b["timing"]["training"]["eval_env_steps"] == sum(map(sum, episodes)) > 0
        assert a["timing"]["training"]["updates"] == b["timing"]["training"]["updates"] == 400
        cost = estimate.run_cost(grouped)
        assert cost.train_runs == 5 and cost.learner == f"iql+{a['labeller']}"
        assert cost.update_s > 0 and cost.label_runs == (4 if clue else 1)


def test_a_bad_plan_file_fails_before_any_folder(tmp_path):
    def fails(*args):
        proc = subprocess.run([sys.executable, "train_iql.py", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        return proc.stderr
    bad = tmp_path / "plan.json"
    bad.write_text('{"not": "a plan"}')
    assert "--plan_file" in fails(f"--plan_file={bad}")
    two = [RunSettings(env_name=name, save_dir=str(tmp_path)) for name in
           ("gen-pointmaze-umaze-diverse-v0", "gen-pointmaze-large-diverse-v0")]
    write_plan_file(bad, two)
    assert "--env_name differs" in fails(f"--plan_file={bad}")
    write_plan_file(bad, two[:1])
    assert "--max_steps was given too" in fails(f"--plan_file={bad}", "--max_steps=10")
    assert not any(tmp_path.glob("iql-true"))


def test_a_second_writer_fails_at_once_and_the_first_finishes_intact(tmp_path, maze_file):
    import signal
    import time
    args = [sys.executable, "train_iql.py", f"--env_name={ENV}", f"--dataset_path={maze_file}",
            f"--save_dir={tmp_path}", *TINY_IQL, "--max_steps=40000", "--log_interval=1000",
            "--eval_interval=2000", "--eval_episodes=2", "--batch_size=32", "--notqdm"]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    run_dir = tmp_path / "iql-true" / ENV / "seed_42"
    for _ in range(600):
        if (run_dir / "checkpoint.msgpack").exists():
            break
        time.sleep(0.1)
    second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1 and f"{run_dir} is in use by pid {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    rows = np.loadtxt(run_dir / "42.txt")
    assert rows[:, 0].tolist() == list(range(2000, 40001, 2000))
    assert [p.name for p in (tmp_path / "iql-true" / ENV).iterdir()] == ["seed_42"]
    # Ctrl-C: one line with the resume command, exit status 130
    third = subprocess.Popen(args + ["--max_steps=1000000"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    time.sleep(8)
    third.send_signal(signal.SIGINT)
    _, err = third.communicate(timeout=120)
    assert third.returncode == 130 and "--resume" in err.splitlines()[-1]
    assert "Traceback" not in err


@pytest.mark.parametrize("script", ["train_iql.py", "train_sac.py"])
def test_a_ctrl_c_during_the_imports_ends_the_run_before_any_folder(tmp_path, maze_file, script):
    """Python drops a KeyboardInterrupt raised in JAX's gc callback (clue_jax.interrupts):
    a Ctrl-C while the script imports used to be lost and the run trained on. Now it ends
    the run once the imports are done: one line, exit 130. The Ctrl-C comes when the child
    has begun importing jax (`-X importtime` reports each import as it ends), so it lands
    within the imports however fast or busy the machine is."""
    import signal
    args = {"train_iql.py": [f"--env_name={ENV}", f"--dataset_path={maze_file}", *TINY_IQL],
            "train_sac.py": ["--env_name=Hopper-v5", "--max_steps=1000"]}[script]
    proc = subprocess.Popen([sys.executable, "-X", "importtime", script, *args,
                             f"--save_dir={tmp_path / 'runs'}", "--notqdm"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_default)
    for line in proc.stderr:  # 'import time: self | cumulative | <indent>module'
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip().startswith("jax"):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = [line for line in rest.splitlines() if not line.startswith("import time:")]
    assert proc.returncode == 130, err[-20:]
    assert not any("Traceback" in line or "Exception ignored" in line for line in err), err
    assert "interrupted" in err[-1] and not (tmp_path / "runs").exists()


@pytest.fixture()
def started_clue_run(tmp_path, maze_file):
    """A finished tiny CLUE run to corrupt: its folder and its command line."""
    args = [f"--env_name={ENV}", f"--dataset_path={maze_file}", f"--save_dir={tmp_path}",
            *TINY_IQL, *TINY_CLUE, *LOOP]
    run("train_clue.py", *args)
    return tmp_path / "clue-sparse-K1" / ENV / "seed_42", args


@pytest.mark.parametrize("name", ["checkpoint.msgpack", "cvae.msgpack", "config.json",
                                  "rewards.npz"])
def test_a_truncated_file_on_resume_leaves_the_run_untouched(started_clue_run, name):
    run_dir, args = started_clue_run
    path = run_dir / name
    path.write_bytes(path.read_bytes()[:40])
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "train_clue.py", *args, "--resume"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and str(path) in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "restored" not in proc.stdout
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["seed_42"]


def test_actions_outside_the_bounds_are_refused_not_clipped(tmp_path, maze_file):
    import shutil
    import h5py
    path = tmp_path / "loud.hdf5"
    shutil.copy(maze_file, path)
    with h5py.File(path, "r+") as f:
        f["actions"][...] = f["actions"][...] * 50.0
    proc = subprocess.run([sys.executable, "train_iql.py", f"--env_name={ENV}",
                           f"--dataset_path={path}", f"--save_dir={tmp_path / 'runs'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "actions reach" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


def test_rerunning_an_unfinished_run_without_resume_says_what_resume_would_do(
        started_clue_run):
    run_dir, args = started_clue_run
    (run_dir / "results.json").unlink()  # as if killed after its last checkpoint
    out = run("train_clue.py", *args)
    assert "was unfinished: --resume would have continued it" in out


TOY_PLUGIN = '''
"""A toy labeller and a toy learner, each registered in one place."""
import jax, jax.numpy as jnp, ml_collections, numpy as np, optax, flax
from flax.training.train_state import TrainState
from clue_jax import networks, rules
from clue_jax.agents import fused
from clue_jax.experiments import agents
from clue_jax.rewards import labellers


from pathlib import Path

HERE = Path(__file__).resolve().parent


def label(request):  # reward: closeness to the experts' mean state, scaled
    centre = request.expert.observations.mean(0)
    rewards = request.config.scale * np.exp(
        -np.linalg.norm(request.dataset.observations - centre, axis=1))
    return labellers.Labels(rewards.astype(np.float32), {"reward_mean": float(rewards.mean())})


labellers.register(labellers.Labeller(
    "toyreward", True, lambda domain: ml_collections.ConfigDict({"scale": 1.0}), label,
    config_rules={"scale": rules.positive()}, config_file=str(HERE / "toyreward_config.py")))


class BC(flax.struct.PyTreeNode):
    actor: TrainState


def create(seed, dataset, config, max_steps, expert_data=None):
    module = networks.MLP((*config["hidden_dims"], dataset.act_dim))
    params = module.init(jax.random.PRNGKey(seed), jnp.zeros((1, dataset.obs_dim)))["params"]
    return BC(TrainState.create(apply_fn=module.apply, params=params,
                                tx=optax.adam(config["lr"])))


def act(agent, observations):
    return jnp.tanh(agent.actor.apply_fn({"params": agent.actor.params}, observations))


def update(agent, batch):
    def loss(params):
        pred = jnp.tanh(agent.actor.apply_fn({"params": params}, batch.observations))
        return jnp.mean((pred - batch.actions) ** 2)
    value, grads = jax.value_and_grad(loss)(agent.actor.params)
    return agent.replace(actor=agent.actor.apply_gradients(grads=grads)), {"bc_loss": value}


agents.register(agents.AgentSpec(
    "toybc", lambda domain: ml_collections.ConfigDict({"hidden_dims": (16, 16), "lr": 1e-3}),
    create, fused.jit_fused(fused.fuse(update)), act, lambda domain: ("none", 0.0),
    config_rules={"hidden_dims": rules.sizes(), "lr": rules.positive()},
    config_file=str(HERE / "toybc_config.py")))
'''
TOY_CONFIGS = {"toyreward_config.py": {"scale": 1.0},
               "toybc_config.py": {"hidden_dims": (16, 16), "lr": 1e-3}}


def test_a_toy_labeller_and_learner_registered_once_run_everywhere(tmp_path, maze_file):
    """$CLUE_JAX_PLUGINS: one module registers a labeller and a learner; train_iql.py takes
    them as --labeller / --agent with their config flags (--toyreward_config.<field>,
    --config.<field>), and reproduce.py as methods of its grid."""
    (tmp_path / "toy_methods.py").write_text(TOY_PLUGIN)
    for name, fields in TOY_CONFIGS.items():
        (tmp_path / name).write_text(
            "import ml_collections\n\ndef get_config():\n"
            f"    return ml_collections.ConfigDict({fields!r})\n")
    env = dict(os.environ, CLUE_JAX_PLUGINS="toy_methods",
               PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    common = [f"--env_name={ENV}", f"--dataset_path={maze_file}", "--notqdm"]
    means = {}
    for scale in ("1.0", "2.0"):
        proc = subprocess.run([sys.executable, "train_iql.py", "--labeller=toyreward",
                               "--agent=toybc", f"--save_dir={tmp_path / scale}",
                               f"--toyreward_config.scale={scale}", "--config.lr=0.002",
                               *common, *LOOP],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        run_dir = tmp_path / scale / "toybc-toyreward-sparse-K1" / ENV / "seed_42"
        results = json.loads((run_dir / "results.json").read_text())
        assert [s for s, _ in results["history"]] == [200, 400] and results["agent"] == "toybc"
        config = json.loads((run_dir / "config.json").read_text())
        assert config["labeller_config"]["scale"] == float(scale)
        assert config["toybc"]["lr"] == 0.002
        means[scale] = results["labels"]["reward_mean"]
    assert means["2.0"] == pytest.approx(2 * means["1.0"], rel=1e-5)
    proc = subprocess.run([sys.executable, "reproduce.py", f"--tasks={ENV}",
                           "--methods=toyreward,toyreward-imitation,toybc", "--seeds=0",
                           f"--out={tmp_path / 'grid'}", "--", f"--dataset_path={maze_file}",
                           *LOOP, "--expert_dataset=gen-pointmaze-umaze-demos-v0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(tmp_path / "grid" / "results.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"toyreward", "toyreward-imitation", "toybc"}
    assert all(r["status"] == "ok" and r["steps"] == "400" for r in rows.values())
