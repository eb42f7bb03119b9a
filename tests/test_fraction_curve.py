"""The curve scripts: scripts/fraction_curve.py (each method's mean ± std per fraction, from
results.csv files) and scripts/budget_curves.py (scores at several budgets from the runs'
evaluation files)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "task,method,k,seed,status,score,final,steps,wall_time_s\n"


def test_the_table_by_hand(tmp_path):
    tenth, whole, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    tenth.write_text(HEADER + "t,iql,,0,ok,20,0,1,1\nt,iql,,1,ok,30,0,1,1\n"
                     "t,clue-imitation,1,0,ok,40,0,1,1\nt,clue-imitation,1,1,failed,99,0,1,1\n"
                     "u,iql,,0,ok,99,0,1,1\n")
    whole.write_text(HEADER + "t,iql,,0,ok,50,0,1,1\n")
    other.write_text(HEADER + "t,clue-imitation,1,0,ok,60,0,1,1\nt,clue-imitation,1,1,ok,70,0,1,1\n")
    out = subprocess.run(
        [sys.executable, "scripts/fraction_curve.py", "--task=t", "--methods=iql,clue-imitation:1",
         f"--point=0.1={tenth}", f"--point=1.0={whole}", f"--point=1.0={other}",
         f"--plot={tmp_path / 'f.png'}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "| method | 0.1 of the data | 1 of the data |"
    # the failed row and the other task are left out; both files of fraction 1.0 count
    assert out[2] == "| iql | 25.0 ± 5.0 (n=2) | 50.0 ± 0.0 (n=1) |"
    assert out[3] == "| clue-imitation (K=1) | 40.0 ± 0.0 (n=1) | 65.0 ± 5.0 (n=2) |"
    assert (tmp_path / "f.png").stat().st_size > 0


def test_budget_curves_by_hand(tmp_path):
    """A run's score at budget B: the mean of its last 3 evaluations up to B; a run that has
    not reached B is left out."""
    evaluations = {"seed_0": [(1, 10), (2, 20), (3, 30), (4, 40)], "seed_1": [(1, 0), (2, 0)]}
    for seed, rows in evaluations.items():
        folder = tmp_path / "grid" / "iql-true" / "t" / seed
        folder.mkdir(parents=True)
        (folder / f"{seed[5:]}.txt").write_text("".join(f"{a} {b}\n" for a, b in rows))
    out = subprocess.run(
        [sys.executable, "scripts/budget_curves.py", f"--out={tmp_path / 'grid'}", "--task=t",
         "--methods=iql-true", "--budgets=2,4", f"--plot={tmp_path / 'c.png'}"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "| method | 2 updates | 4 updates |"
    assert out[2] == "| iql-true | 7.5 ± 7.5 (n=2) | 30.0 ± 0.0 (n=1) |"
    assert (tmp_path / "c.png").stat().st_size > 0

