"""One logger per run: TensorBoard scalars plus the reference's (step, score) text file."""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np


class RunLogger:
    """Writes TensorBoard event files to `run_dir/tb/<stream>` and `<seed>.txt` rows of
    (step, score) in `run_dir`.

    Each training phase has its own stream ('agent' for the learner, 'cvae' for CLUE's
    CVAE), so resuming one never purges the other's curves. On resume pass the
    checkpoint's step as `resumed_from`: TensorBoard then drops the events the killed
    process logged after that checkpoint and keeps every point up to it.
    """

    def __init__(self, run_dir, seed: int, resumed_from: Optional[int] = None,
                 stream: str = "agent"):
        from tensorboardX import SummaryWriter  # lazy: heavy import
        self.run_dir = Path(run_dir)
        purge_step = None if resumed_from is None else resumed_from + 1
        self.writer = SummaryWriter(str(self.run_dir / "tb" / stream), purge_step=purge_step)
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


def read_scalars(stream_dir) -> Dict[str, List[Tuple[int, float]]]:
    """Scalars of a TensorBoard stream folder as TensorBoard shows them: tag -> [(step, value)].

    Reads every event file in write order and applies the purge a resumed writer
    records (a SessionLog START at step p drops earlier events with step >= p), so
    a resumed run can be compared with an uninterrupted one without TensorBoard.
    """
    import struct
    from tensorboardX.proto import event_pb2
    scalars: Dict[str, List[Tuple[int, float]]] = {}
    for path in sorted(Path(stream_dir).glob("events.out.tfevents*"),
                       key=lambda p: (p.stat().st_mtime, p.name)):
        data, i = path.read_bytes(), 0
        while i + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[i + 12:i + 12 + length])
            i += 12 + length + 4  # length, its crc, the record, its crc
            if event.HasField("session_log") and event.session_log.status == 1:  # START
                scalars = {tag: [(s, v) for s, v in rows if s < event.step]
                           for tag, rows in scalars.items()}
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((int(event.step), value.simple_value))
    return scalars
