"""clue-jax: Calibrated Latent Guidance (CLUE) for offline RL on a JAX port of IQL."""

from pathlib import Path

from setuptools import find_packages, setup

requirements = [line.strip() for line in Path(__file__).with_name("requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

setup(
    name="clue-jax",
    version="0.1.0",
    description="CLUE (Calibrated Latent Guidance for Offline RL) and IQL in JAX/Flax",
    long_description=Path(__file__).with_name("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["clue_jax", "clue_jax.*", "configs"]),
    python_requires=">=3.10,<3.13",
    install_requires=requirements,
    extras_require={
        # pytest-xdist: the README's test command spreads the tests over up to 4 cores
        "test": ["pytest>=8", "pytest-xdist==3.8.0", "ray==2.60.0", "mujoco-mjx==3.17.0"],
        # --eval_backend=device: episodes on the accelerator with MuJoCo XLA (locomotion)
        "mjx": ["mujoco-mjx==3.17.0"],
        "d4rl": ["d4rl"],
        # accelerators: the same jax version as requirements.txt, with its device plugin
        "cuda": ["jax[cuda12]==0.10.2"],
        "tpu": ["jax[tpu]==0.10.2"],
        # reproduce.py --backend=ray
        "ray": ["ray==2.60.0"],
    },
    package_data={"clue_jax": ["policies/README.md", "policies/policies.json", "policies/*/*.msgpack",
                               "policies/*/*.hdf5"]},
)
