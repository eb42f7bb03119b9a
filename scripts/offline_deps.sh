#!/usr/bin/env bash
# Pack what clue-jax needs beyond a preinstalled JAX stack into one folder, for a machine
# without network (a GPU node with jax, flax, optax, chex, h5py, numpy, scipy, scikit-learn,
# matplotlib, pandas already installed, e.g. jax 0.11.2 + flax 0.12.10 with CUDA 13):
#
#   bash scripts/offline_deps.sh [FOLDER] [PYTHON_VERSION]     # here, with network
#   export PYTHONPATH=$PWD/FOLDER                               # there, before any command
#
# It also writes FOLDER.tgz (about 20 MB; 70 MB unpacked), which scripts/gpu_run.sh unpacks
# by itself when it finds it in the repository root.
#
# Wheels come from PyPI for CPython PYTHON_VERSION (default 3.12) on x86-64 Linux and are
# unpacked, not installed (no pip needed there). gymnasium-robotics' Adroit, Franka-kitchen,
# Fetch and hand meshes (44 MB) are dropped: the point mazes need none of them (Adroit envs
# then fail to build there). The versions are requirements.txt's.
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDER=${1:-.site}
PY=${2:-3.12}
pin() { grep -i "^$1==" requirements.txt | head -1; }
WHEELS=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$WHEELS" \
    "$(pin mujoco)" "mujoco-core==$(pin mujoco | cut -d= -f3)" glfw PyOpenGL "$(pin gymnasium)" \
    Farama-Notifications "$(pin gymnasium-robotics)" pettingzoo "$(pin ott-jax)" jaxopt \
    "$(pin ml-collections)" "$(pin tensorboardX)" "$(pin tqdm)" "$(pin absl-py)" \
    mujoco-mjx==3.17.0 trimesh==5.2.0
rm -rf "$FOLDER" && mkdir -p "$FOLDER"
for wheel in "$WHEELS"/*.whl; do python3 -m zipfile -e "$wheel" "$FOLDER"; done
rm -rf "$WHEELS"
ASSETS="$FOLDER/gymnasium_robotics/envs/assets"
rm -rf "$ASSETS/adroit_hand" "$ASSETS/kitchen_franka" "$ASSETS/stls"
tar czf "$FOLDER.tgz" "$FOLDER"
du -sh "$FOLDER" "$FOLDER.tgz"
