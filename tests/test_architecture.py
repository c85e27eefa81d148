"""The package's shape: imports point one way, every page and subcommand is listed, the package installs."""
import ast
import importlib
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toyood"

# Each module's layer: a module may import only modules of a lower layer (or, inside one subpackage,
# of its own layer). A new module must be added here, which is where its place is decided.
LAYERS = {
    0: ["errors", "jsonutil", "progress", "data", "metrics", "regions.compiled", "regions.geometry",
        "scores"],
    1: ["device", "models", "methods", "predict", "budget", "output_folder"],
    2: ["farfield", "train", "attack"],
    3: ["toy"],
    4: ["runfiles", "gan", "images.*"],
    5: ["evaluate", "regions.*", "batched", "ray"],
    6: ["plots.*", "experiment", "timeline"],
    7: ["cli.*"],
    8: ["__main__"],
}


def module_names() -> list[str]:
    names = []
    for file in PACKAGE.rglob("*.py"):
        parts = file.relative_to(PACKAGE).with_suffix("").parts
        names.append(".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts))
    return sorted(n for n in names if n)


def layer_of(name: str) -> int:
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if name == pattern or (pattern.endswith(".*") and (name + ".").startswith(pattern[:-1])):
                return layer
    raise AssertionError(f"toyood.{name} has no layer: add it to LAYERS in tests/test_architecture.py")


def imports_of(name: str) -> set[str]:
    """toyood modules imported by ``name`` anywhere in its file (module level and inside functions)."""
    file = PACKAGE / (name.replace(".", "/") + ".py")
    if not file.exists():
        file = PACKAGE / name.replace(".", "/") / "__init__.py"
    package = name.split(".")[:-1] if file.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])]) if node.level else (
                node.module or "")
            if not node.level and not module.startswith("toyood"):
                continue
            module = module.removeprefix("toyood.").removeprefix("toyood")
            targets = [f"{module}.{a.name}" if module else a.name for a in node.names]
            found |= {t if t in ALL else module for t in targets}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("toyood.") for a in node.names if a.name.startswith("toyood.")}
    return {f for f in found if f and f != name}


ALL = set(module_names())


def test_every_module_has_a_layer():
    for name in ALL:
        layer_of(name)


def test_imports_point_down_the_layers():
    wrong = []
    for name in ALL:
        for target in imports_of(name):
            if target not in ALL:
                continue
            same_package = name.split(".")[0] == target.split(".")[0] and ("." in name or "." in target)
            if layer_of(target) > layer_of(name) or (layer_of(target) == layer_of(name) and not same_package):
                wrong.append(f"toyood.{name} (layer {layer_of(name)}) imports toyood.{target} "
                             f"(layer {layer_of(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_there_is_no_import_cycle():
    graph = {name: {t for t in imports_of(name) if t in ALL} for name in ALL}
    state: dict[str, int] = {}

    def visit(node, path):
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " → ".join([*path, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for target in graph[node]:
            visit(target, [*path, node])
        state[node] = 2
    for name in sorted(graph):
        visit(name, [])


def test_the_library_never_imports_streamlit():
    for file in PACKAGE.rglob("*.py"):
        tree = ast.parse(file.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(n.split(".")[0] == "streamlit" for n in names), file


def test_every_subcommand_module_exists_and_configures():
    from toyood.cli import SUBCOMMANDS, build_parser
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"toyood.cli.{name}")
        assert callable(module.configure) and callable(module.run)
        build_parser(name)
    listed = {p.stem for p in (PACKAGE / "cli").glob("*.py")} - {"__init__"}
    assert listed == set(SUBCOMMANDS), "every module in toyood/cli is a listed subcommand"


def test_help_does_not_import_torch_or_numba():
    code = "import sys; from toyood.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "assert 'torch' not in sys.modules and 'numba' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_pip_install_gives_a_working_console_script(tmp_path):
    """A fresh venv that sees the test environment's packages: installing toyood itself (no
    dependencies to fetch) must work, and its console script must answer."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True).stdout.strip()
    # the test environment's packages (torch, numpy, ...) as a plain path: its .pth files (the
    # editable toyood) are not processed, so the fresh venv sees only the toyood it installs
    (Path(purelib) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    build = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for argv in (["--help"], ["toy", "--help"]):
        result = subprocess.run([str(env_dir / "bin" / "toyood"), *argv], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path, env=env)
        assert result.returncode == 0 and "usage: toyood" in result.stdout, result.stderr
    located = subprocess.run([str(python), "-c", "import toyood; print(toyood.__file__)"], capture_output=True,
                             text=True, cwd=tmp_path, env=env)
    assert str(env_dir) in located.stdout, "the installed copy, not the checkout, is imported"


def test_every_function_reads_in_one_screen():
    long = []
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long.append(f"{file.relative_to(ROOT)}:{node.lineno} {node.name} has {length} lines")
    assert not long, "\n".join(long)


def test_docstrings_cite_no_files_outside_the_repository():
    outside = ("REFERENCE.md", "../shared", "/work/", "/tmp/")
    found = []
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                found += [f"{file.relative_to(ROOT)}: {word}" for word in outside if word in doc]
    assert not found, "\n".join(found)
