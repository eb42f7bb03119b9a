"""The benchmark scripts and the GPU script run as written (tiny settings, this machine's CPU).

Their figures are measured, never asserted; these tests check that the scripts run, that what
they record adds up, and that the host evaluator they time equals the reference one.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clue_jax.generation import generated

ROOT = Path(__file__).resolve().parents[1]
MAZE = "gen-pointmaze-umaze-diverse-v0"


def run(args, env=None):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_the_gpu_script_parses():
    proc = subprocess.run(["bash", "-n", "scripts/gpu_run.sh"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_bench_eval_backends_host_scores_equal_the_reference():
    out = run(["bench/bench_eval_backends.py", "--envs=hopper", "--episodes=3", "--max_steps=20",
               "--backends=reference,host"])
    scores = dict(re.findall(r"gen-hopper-expert-v0 (\w+)\s*:.*score (\S+ ± \S+) \(se\)", out))
    assert set(scores) == {"reference", "host"}, out
    assert scores["host"] == scores["reference"]  # the same episodes, step for step


@pytest.mark.slow
def test_bench_e2e_records_a_group_against_separate_runs(tmp_path):
    data = tmp_path / "data"
    generated.ensure_generated(MAZE, cache_dir=str(data), size=6000, seed=0)
    record_file = tmp_path / "e2e.json"
    args = ["bench/bench_e2e.py", f"--env={MAZE}", "--seeds=2", "--separate=1",
            "--max_steps=100", "--cvae_steps=50", "--eval_interval=50", "--eval_episodes=2",
            f"--out={tmp_path / 'runs'}", f"--json={record_file}"]
    out = run(args, env=dict(os.environ, CLUE_JAX_DATA_DIR=str(data)))
    assert "seed-throughput: group" in out
    record = json.loads(record_file.read_text())[-1]
    assert record["runs"] == 2 and len(record["separate_wall_s"]) == 1
    assert record["device"].startswith(("cpu", "gpu", "cuda", "tpu"))
    # two evaluations of 2 episodes for each of the group's 2 seeds, every episode >= 1 step
    assert record["group_eval_env_steps"] >= 8
    for phases in (record["group_phases_s"], record["separate_phases_s"][0]):
        assert {"data", "labelling", "training", "evaluation"} <= set(phases)
    want = (2 / record["group_wall_s"]) / (1 / record["separate_wall_s"][0])
    assert record["throughput_ratio"] == pytest.approx(want, abs=0.01)
