"""scripts/table4_ranking.py: Kendall's tau of a measured Table 4 against the paper's, row by
row and over each K's totals, checked by hand on made-up scores."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import table4_ranking  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HEADER = "task,method,k,seed,status,score,final,steps,wall_time_s\n"


def test_rows_and_totals_by_hand(tmp_path):
    """hopper-medium measured as the paper prints it (tau +1), walker2d-medium in the reverse
    order of the paper's (tau -1); the K = 1 totals add both rows' means per method. A row
    with a method missing (K = 10 here) is left out, and a failed run does not count."""
    paper_hm = table4_ranking.PAPER[("hopper-medium", 1)]
    paper_wm = table4_ranking.PAPER[("walker2d-medium", 1)]
    ranks = {m: r for r, m in enumerate(sorted(paper_wm, key=paper_wm.get))}
    lines = []
    for m in table4_ranking.METHODS:
        lines.append(f"gen-hopper-medium-v0,{m},1,0,ok,{paper_hm[m] - 1},0,1,1")
        lines.append(f"gen-hopper-medium-v0,{m},1,1,ok,{paper_hm[m] + 1},0,1,1")
        lines.append(f"gen-hopper-medium-v0,{m},1,2,failed,1000,0,1,1")
        lines.append(f"gen-walker2d-medium-v0,{m},1,0,ok,{100 - 10 * ranks[m]},0,1,1")
    lines.append("gen-hopper-medium-v0,sqil,10,0,ok,50,0,1,1")
    (tmp_path / "r.csv").write_text(HEADER + "\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "scripts/table4_ranking.py", str(tmp_path / "r.csv")],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("| K=")]
    assert len(rows) == 3, out  # two rows at K = 1, one K = 1 total; nothing at K = 10
    assert rows[0].startswith("| K=1 hopper-medium | +1.00 |")
    assert rows[0].split(" | ")[3] == rows[0].split(" | ")[4].rstrip(" |")
    assert rows[1].startswith("| K=1 walker2d-medium | -1.00 |")
    assert "mean tau over 2 rows: +0.00" in out
    total = rows[2].split(" | ")
    assert total[0] == "| K=1" and total[1] == "2"
    measured = {m: paper_hm[m] + 100 - 10 * ranks[m] for m in table4_ranking.METHODS}
    best = max(measured, key=measured.get)
    assert total[4].startswith(f"{best.replace('clue-imitation', 'clue')} {measured[best]:.1f} > ")
    printed = {m: paper_hm[m] + paper_wm[m] for m in table4_ranking.METHODS}
    best = max(printed, key=printed.get)
    assert total[5].startswith(f"{best.replace('clue-imitation', 'clue')} {printed[best]:.1f} > ")
