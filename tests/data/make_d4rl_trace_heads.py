"""Write tests/data/d4rl_trace_heads.npz: the first 10 steps and the compiled model arrays of
each trace recorded in D4RL's own envs (../shared/d4rl_traces/, see its README), so the
parity tests run where that folder is absent (a fresh clone, CI).

    python tests/data/make_d4rl_trace_heads.py [--traces ../shared/d4rl_traces]
"""

import argparse
from pathlib import Path

import numpy as np

STEPS = 200
PER_STEP = ("actions", "obs", "rewards")
KEEP = ("qpos0", "qvel0", "model/body_mass", "model/body_inertia", "model/body_ipos",
        "model/body_iquat", "model/geom_friction", "model/geom_pos", "model/geom_margin")


def main():
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default=str(here.parents[2] / "shared" / "d4rl_traces"))
    args = parser.parse_args()
    out = {}
    for path in sorted(Path(args.traces).glob("d4rl_*.npz")):
        name = path.stem[len("d4rl_"):]
        with np.load(path, allow_pickle=False) as trace:
            for key in KEEP:
                out[f"{name}/{key}"] = trace[key]
            for key in PER_STEP:
                out[f"{name}/{key}"] = trace[key][:STEPS]
    np.savez_compressed(here / "d4rl_trace_heads.npz", **out)
    print(f"wrote {len(out)} arrays from {args.traces}")


if __name__ == "__main__":
    main()
