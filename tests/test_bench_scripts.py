"""The benchmark scripts and the GPU script run as written (tiny settings, this machine's CPU).

Their figures are measured, never asserted; these tests check that the scripts run, that what
they record adds up, and that the host evaluator they time equals the reference one.
"""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_scripts import ENV as MAZE, ROOT, maze_file, run  # noqa: F401 -- maze_file: a fixture


def test_the_gpu_script_parses():
    proc = subprocess.run(["bash", "-n", "scripts/gpu_run.sh"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_bench_eval_backends_host_scores_equal_the_reference():
    out = run("bench/bench_eval_backends.py", "--envs=hopper", "--episodes=3", "--max_steps=20",
              "--backends=reference,host")
    scores = dict(re.findall(r"gen-hopper-expert-v0 (\w+)\s*:.*score (\S+ ± \S+) \(se\)", out))
    assert set(scores) == {"reference", "host"}, out
    assert scores["host"] == scores["reference"]  # the same episodes, step for step
    assert re.search(r"host - reference = \+0\.00 ± 0\.00 \(paired se, 6 episodes\), 95% "
                     r"interval \[\+0\.00, \+0\.00\];.*within 1 point: shown", out), out


def test_the_backends_verdict_names_a_difference_and_the_pairs_an_unsettled_one_needs():
    spec = importlib.util.spec_from_file_location("bench_eval_backends",
                                                  ROOT / "bench" / "bench_eval_backends.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    base = np.linspace(0.0, 100.0, 400)
    shifted = bench.difference_line("env", "device", base + 3.0 + 0.1 * np.sin(base), "host",
                                    base, 1.0)
    assert "device - host = +3.00" in shifted and "differs by more than 1 point" in shifted
    # independent pairs of spread 40: the interval is about +-5.5 at 200 pairs; +-1 needs
    # (1.96 * sd / 1) ** 2 pairs of the differences' sd
    rng = np.random.default_rng(0)
    device, host = rng.normal(100, 40, 200), rng.normal(100, 40, 200)
    needed = int(np.ceil((1.96 * np.std(device - host, ddof=1)) ** 2))
    line = bench.difference_line("env", "device", device, "host", host, 1.0)
    assert f"not shown (an interval of ± 1 point needs about {needed} pairs" in line, line
    assert 5000 < needed < 15000


@pytest.mark.slow
def test_bench_e2e_records_a_group_against_separate_runs(tmp_path, maze_file):
    record_file = tmp_path / "e2e.json"
    out = run("bench/bench_e2e.py", f"--env={MAZE}", "--seeds=2", "--separate=1",
              "--max_steps=100", "--cvae_steps=50", "--eval_interval=50", "--eval_episodes=2",
              f"--out={tmp_path / 'runs'}", f"--json={record_file}",
              CLUE_JAX_DATA_DIR=str(Path(maze_file).parent))
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
