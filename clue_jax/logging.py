"""One logger per run: TensorBoard scalars plus the reference's (step, score) text file."""

import time
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
        from tensorboardX.event_file_writer import EventsWriter  # lazy: heavy import
        from tensorboardX.proto import event_pb2, summary_pb2
        self.run_dir = Path(run_dir)
        folder = self.run_dir / "tb" / stream
        folder.mkdir(parents=True, exist_ok=True)
        # tensorboardX's synchronous writer (its SummaryWriter queues events on a thread, so
        # a flush may miss the last ones); a unique, time-ordered file name, so that a resume
        # within the same second as the kill never reuses the killed writer's file.
        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        self.writer = EventsWriter(str(folder / "events"), filename_suffix=f".{time.time_ns()}")
        if resumed_from is not None:  # TensorBoard drops earlier events with step > resumed_from
            self.writer.write_event(event_pb2.Event(
                step=resumed_from + 1, wall_time=time.time(),
                session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
        self.score_file = self.run_dir / f"{seed}.txt"

    def log(self, scalars: Dict[str, float], step: int) -> None:
        summary = self._summary_pb2.Summary(value=[
            self._summary_pb2.Summary.Value(tag=key, simple_value=float(value))
            for key, value in scalars.items()])
        self.writer.write_event(self._event_pb2.Event(step=int(step), wall_time=time.time(),
                                                      summary=summary))

    def write_scores(self, history: List[Tuple[int, float]]) -> None:
        """The reference's text file: one `step score` row per evaluation."""
        np.savetxt(self.score_file, np.asarray(history, dtype=np.float64).reshape(-1, 2),
                   fmt=["%d", "%.1f"])

    def flush(self) -> None:
        """Everything logged so far is on disk when this returns."""
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_scores(score_file) -> np.ndarray:
    """A `<seed>.txt` written by `RunLogger.write_scores` as an (evaluations, 2) array of
    (step, score) rows; (0, 2) for a file with no evaluation yet."""
    return np.loadtxt(score_file, ndmin=2).reshape(-1, 2)


def read_scalars(stream_dir) -> Dict[str, List[Tuple[int, float]]]:
    """Scalars of a TensorBoard stream folder as TensorBoard shows them: tag -> [(step, value)].

    Reads every event file in write order and applies the purge a resumed writer
    records (a SessionLog START at step p drops earlier events with step >= p), so
    a resumed run can be compared with an uninterrupted one without TensorBoard.
    """
    import struct
    from tensorboardX.proto import event_pb2
    scalars: Dict[str, List[Tuple[int, float]]] = {}
    for path in sorted(Path(stream_dir).glob("events.out.tfevents*")):  # TensorBoard's order
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
