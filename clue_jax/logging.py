"""One logger per run: TensorBoard scalars plus the reference's (step, score) text file."""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np


class RunLogger:
    """Writes TensorBoard event files and `<seed>.txt` rows of (step, score) in `run_dir`.

    On resume pass `purge_step` so events logged after the last checkpoint by the
    killed process are dropped by TensorBoard.
    """

    def __init__(self, run_dir, seed: int, purge_step: Optional[int] = None):
        from tensorboardX import SummaryWriter  # lazy: heavy import
        self.run_dir = Path(run_dir)
        self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge_step)
        self.score_file = self.run_dir / f"{seed}.txt"

    def log(self, scalars: Dict[str, float], step: int) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, float(value), step)

    def write_scores(self, history: List[Tuple[int, float]]) -> None:
        """The reference's text file: one `step score` row per evaluation."""
        np.savetxt(self.score_file, np.asarray(history, dtype=np.float64).reshape(-1, 2),
                   fmt=["%d", "%.1f"])

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
