"""The package layers: every clue_jax import points down (docs/ARCHITECTURE.md), none is hidden.

Parsed with `ast`, so a function-local import counts like a top-level one.
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "clue_jax"
# Lower number = lower layer. A module may import its own layer's or lower layers' modules.
LAYERS = {
    "types": 0, "checkpoints": 0, "logging": 0, "networks": 0, "trees": 0, "rules": 0,
    "timing": 0, "compat": 0, "locks": 0, "interrupts": 0,
    "data": 1,
    "envs": 2, "evaluation": 2,
    "agents": 3,
    "rewards": 4,
    "generation": 5, "training": 5, "sac_loop": 5,
    "experiments": 6,
    "grid": 7,
}


def unit(module: str) -> str:
    """'clue_jax.data.dataset' -> 'data'; 'clue_jax.training' -> 'training'."""
    return module.split(".")[1]


def project_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clue_jax"):
            if node.module == "clue_jax":
                yield from (f"clue_jax.{a.name}" for a in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("clue_jax."))


def test_every_module_has_a_layer():
    units = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.glob("*")
             if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    assert units <= set(LAYERS), units - set(LAYERS)


def test_imports_point_down_only():
    upward = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue
        own = rel.parts[0].removesuffix(".py")
        for module in project_imports(path):
            if LAYERS[unit(module)] > LAYERS[own]:
                upward.append(f"{rel} imports {module}")
    assert not upward, "\n".join(upward)


def test_configs_are_plain_data():
    """configs/ sits below every layer: its files import ml_collections, the standard library
    and one another only (never clue_jax), and each config file has a get_config."""
    import sys
    configs = PKG.parent / "configs"
    allowed = {"ml_collections", "configs"} | set(sys.stdlib_module_names)
    for path in configs.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"configs/{path.name} imports {name}"
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if path.name != "__init__.py":
            assert "get_config" in functions, f"configs/{path.name} has no get_config"


def test_data_reads_and_writes_datasets_only():
    for path in (PKG / "data").glob("*.py"):
        for module in project_imports(path):
            assert unit(module) in ("data", "types", "checkpoints"), f"{path.name}: {module}"


def test_every_study_in_the_results_index_exists():
    """results/README.md's index links each study's folder or file; each must exist, and
    every study folder under results/ must be in the index."""
    import re
    results = PKG.parent / "results"
    index = (results / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", index.split("## The studies in short")[0])
    assert links and all((results / link).exists() for link in links), links
    folders = {p.name for p in results.iterdir() if p.is_dir()}
    linked = {link.split("/")[0] for link in links}
    assert folders <= linked, folders - linked


def test_ci_runs_the_readmes_test_command():
    """.ci/run installs and tests as the README's first screen tells a fresh clone to."""
    import re
    readme = (PKG.parent / "README.md").read_text().split("## Contents")[0]
    ci = (PKG.parent / ".ci" / "run").read_text()
    tests = re.search(r'pip install -e "\.\[test\]" && (python -m pytest [^\n]+)', readme)
    assert tests and tests.group(1) in ci, ci
