"""How long the project's D4RL envs stay on D4RL's own trajectories.

    python bench/measure_d4rl_parity.py [--traces ../shared/d4rl_traces] [--margins both]

Each trace (recorded in D4RL's own env on MuJoCo 2.1: start state, then 1000 seeded random
actions; ../shared/d4rl_traces/README.md) is replayed in the project's env of the same
name from the same state. Printed per env: the largest observation difference at steps
1, 2, 5, 10 and 100, and the first step where it exceeds 1e-6, 1e-3 and 0.1. With
`--margins=both`, once with MuJoCo 2.1's contact margins (`d4rl_models.match_d4rl_margins`,
what the envs use) and once with MuJoCo 4's (each geom's own margin, summed per contact).
With `--solver_variants`, antmaze once more under each solver / contact option MuJoCo 4
offers that MuJoCo 2.1 might have set otherwise (D4RL's margins in all of them).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NAMES = ("hopper-medium-v2", "halfcheetah-medium-v2", "walker2d-medium-v2", "antmaze-umaze-v2",
         "maze2d-umaze-v1")


def solver_variants():
    """name -> a function setting one MuJoCo option on a model."""
    import mujoco
    dis = mujoco.mjtDisableBit

    def option(**values):
        def apply(model):
            for key, value in values.items():
                if key == "disable":
                    model.opt.disableflags |= value
                else:
                    setattr(model.opt, key, value)
        return apply
    return {
        "as the env is": option(),
        "exact line search (ls_tolerance 1e-12, 1000 its)": option(ls_tolerance=1e-12,
                                                                  ls_iterations=1000),
        "tolerance 1e-15, 1000 iterations": option(tolerance=1e-15, iterations=1000),
        "CG solver": option(solver=mujoco.mjtSolver.mjSOL_CG),
        "PGS solver": option(solver=mujoco.mjtSolver.mjSOL_PGS),
        "elliptic cone": option(cone=mujoco.mjtCone.mjCONE_ELLIPTIC),
        "no warm start": option(disable=dis.mjDSBL_WARMSTART),
        "dense Jacobian": option(jacobian=mujoco.mjtJacobian.mjJAC_DENSE),
        "sparse Jacobian": option(jacobian=mujoco.mjtJacobian.mjJAC_SPARSE),
        "noslip 10 iterations": option(noslip_iterations=10),
        "no islands": option(disable=dis.mjDSBL_ISLAND),
        "no midphase": option(disable=dis.mjDSBL_MIDPHASE),
        "no native CCD": option(disable=dis.mjDSBL_NATIVECCD),
        "no Euler damping": option(disable=dis.mjDSBL_EULERDAMP),
    }


def replay(name: str, trace, d4rl_margins: bool, tweak=None) -> np.ndarray:
    """|obs - D4RL's obs| max per step, (steps,)."""
    import mujoco
    from clue_jax.envs import registry
    from clue_jax.envs.antmaze import D4RLAntMazeEnv
    steps = len(trace["actions"])
    if name.startswith("antmaze"):
        env = D4RLAntMazeEnv("umaze")
        env.reset(seed=0)
        model, data = env.model, env.data
        if not d4rl_margins:
            model.geom_margin[:] *= 2.0
        if tweak is not None:
            tweak(model)
        data.qpos[:], data.qvel[:] = trace["qpos0"], trace["qvel0"]
        mujoco.mj_forward(model, data)
        step = env.step
    else:
        env = registry.make_env(name, seed=0)
        inner = env.unwrapped
        model = inner._point.model if name.startswith("maze2d") else inner.model
        if not d4rl_margins:
            model.geom_margin[:] *= 2.0
        inner.set_state(trace["qpos0"], trace["qvel0"])
        step = env.step
    errors = []
    for k in range(steps):  # physics goes on after a done, as in the recording
        obs = step(trace["actions"][k])[0]
        errors.append(float(np.abs(np.asarray(obs, np.float64) - trace["obs"][k]).max()))
    return np.asarray(errors)


def first_above(errors: np.ndarray, level: float) -> str:
    above = np.flatnonzero(errors > level)
    return str(above[0] + 1) if above.size else f">{len(errors)}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                / "d4rl_traces"))
    parser.add_argument("--margins", default="both", choices=("d4rl", "mujoco4", "both"))
    parser.add_argument("--solver_variants", action="store_true")
    args = parser.parse_args()
    import warnings
    warnings.filterwarnings("ignore")
    modes = {"d4rl": [True], "mujoco4": [False], "both": [True, False]}[args.margins]
    print("env                    margins   step1    step2    step5    step10   step100  "
          "first>1e-6 first>1e-3 first>0.1")
    for name in NAMES:
        path = Path(args.traces) / f"d4rl_{name}.npz"
        if not path.exists():
            print(f"{name}: no trace at {path}")
            continue
        with np.load(path) as f:
            trace = {k: f[k] for k in ("actions", "obs", "qpos0", "qvel0")}
        for d4rl_margins in modes:
            e = replay(name, trace, d4rl_margins)
            print(f"{name:22s} {'2.1' if d4rl_margins else '4 (sum)':8s} "
                  + " ".join(f"{e[i]:.1e} " for i in (0, 1, 4, 9, 99))
                  + f" {first_above(e, 1e-6):>10s} {first_above(e, 1e-3):>10s} "
                  f"{first_above(e, 0.1):>9s}", flush=True)
    if args.solver_variants:
        with np.load(Path(args.traces) / "d4rl_antmaze-umaze-v2.npz") as f:
            trace = {k: f[k][:100] if k in ("actions", "obs") else f[k]
                     for k in ("actions", "obs", "qpos0", "qvel0")}
        print("\nantmaze-umaze-v2, D4RL's margins, one MuJoCo option changed:")
        print(f"{'option':50s} step2    step5    step10   first>1e-3")
        for label, tweak in solver_variants().items():
            e = replay("antmaze-umaze-v2", trace, True, tweak)
            print(f"{label:50s} {e[1]:.1e}  {e[4]:.1e}  {e[9]:.1e}  {first_above(e, 1e-3):>6s}",
                  flush=True)


if __name__ == "__main__":
    main()
