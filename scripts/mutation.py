#!/usr/bin/env python
"""Mutation testing of toyood's core modules with mutmut 3 (not part of CI: minutes per module).

For each module the script copies the checkout to ``build/mutation/<module>/``, writes that copy's
``[tool.mutmut]`` so only the module is mutated and only the tests that cover it run, runs
``mutmut run`` there and prints the score: killed / (killed + survived), timeouts counted as killed.
Survivors are listed; ``cd build/mutation/<module> && mutmut show <name>`` prints a mutant's diff.

    .venv/bin/pip install -e '.[test]'                  # mutmut is in the test extra
    OMP_NUM_THREADS=1 TOYOOD_THREADS=1 .venv/bin/python scripts/mutation.py              # every module
    OMP_NUM_THREADS=1 TOYOOD_THREADS=1 .venv/bin/python scripts/mutation.py metrics data # some
    ... scripts/mutation.py farfield --sample 0.3    # a seeded random 30 % of the mutants (time-box)
    ... scripts/mutation.py farfield --sample 60     # or 60 of them
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("TOYOOD_MUTATION_WORK", ROOT / "build" / "mutation"))  # where the copies go
# module → the tests that cover it (mutmut runs, per mutant, only those of them that call it)
MODULES = {
    "metrics": ("toyood/metrics.py", ["tests/test_metrics.py", "tests/test_metrics_references.py"]),
    "farfield": ("toyood/farfield.py", ["tests/test_farfield.py", "tests/test_k_classes.py"]),
    "methods": ("toyood/methods.py", ["tests/test_methods.py", "tests/test_k_classes.py",
                                      "tests/test_methods_references.py"]),
    "evaluate": ("toyood/evaluate.py", ["tests/test_evaluate.py", "tests/test_evaluate_references.py"]),
    "runfiles": ("toyood/runfiles.py", ["tests/test_runfiles.py"]),
    "data": ("toyood/data.py", ["tests/test_data.py", "tests/test_data_references.py"]),
    "jobs": ("toyood_app/jobs.py", ["tests/test_app_jobs.py", "tests/test_app_queue.py"]),
}
KILLED = {1, 3, 36, 24, -24, 152, 255}  # test failure, pytest internal error, timeouts
SURVIVED = {0}
COPY_IGNORE = shutil.ignore_patterns(".venv", "build", "mutants", "__pycache__", "*.egg-info", ".git", "runs")


def prepare(name: str, tree: Path) -> Path:
    """A fresh copy of ``tree`` (the checkout) whose [tool.mutmut] mutates only ``name`` with its tests."""
    source, tests = MODULES[name]
    tests = [test for test in tests if (tree / test).is_file()]  # an older tree may lack newer test files
    if not tests:
        sys.exit(f"{name}: none of the tests {', '.join(MODULES[name][1])} is in {tree}")
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(tree, work, ignore=COPY_IGNORE)
    pyproject = (work / "pyproject.toml").read_text()
    section = ("[tool.mutmut]\n"
               f"source_paths = [{json.dumps(str(Path(source).parent))}]\n"
               f"only_mutate = [{json.dumps(source)}]\n"
               f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
               'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
               "timeout_multiplier = 10.0\n"
               "use_git_change_detection = false\n")
    pyproject = re.sub(r"\[tool\.mutmut\].*?(?=\n\[|\Z)", "", pyproject, flags=re.S)
    (work / "pyproject.toml").write_text(pyproject + "\n" + section)
    return work


def mutant_names(work: Path) -> list[str]:
    """Every mutant mutmut generated (after a ``mutmut run`` has created them)."""
    names = []
    for meta in (work / "mutants").rglob("*.meta"):
        names += json.loads(meta.read_text())["exit_code_by_key"].keys()
    return sorted(names)


def run_module(name: str, tree: Path, sample: float, seed: int, children: int) -> dict:
    """Run mutmut on one module; return its counts, score and survivors."""
    work = prepare(name, tree)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOYOOD_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = [sys.executable, "-m", "mutmut"]
    selected: list[str] = []
    if sample != 1.0:  # generate the mutants without testing them, then test a seeded sample
        subprocess.run(mutmut + ["run", "--max-children", str(children), "no-such-mutant"], cwd=work, env=env,
                       capture_output=True)
        everyone = mutant_names(work)
        size = min(len(everyone), max(1, round(sample * len(everyone) if sample < 1 else sample)))
        selected = sorted(random.Random(seed).sample(everyone, size))
    subprocess.run(mutmut + ["run", "--max-children", str(children), *selected], cwd=work, env=env, check=False)
    codes = {}
    for meta in (work / "mutants").rglob("*.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    if selected:
        codes = {key: codes.get(key) for key in selected}
    killed = sum(code in KILLED for code in codes.values())
    survivors = sorted(key for key, code in codes.items() if code in SURVIVED)
    other = len(codes) - killed - len(survivors)
    tested = killed + len(survivors)
    return {"module": MODULES[name][0], "mutants": len(codes), "killed": killed, "survived": len(survivors),
            "other": other, "score": round(killed / tested, 3) if tested else None, "survivors": survivors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of {', '.join(MODULES)} (default: all whose file exists)")
    parser.add_argument("--sample", type=float, default=1.0,
                        help="mutants to test: a share in (0, 1] or a number > 1 (seeded random sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="mutate a copy of this tree instead of the checkout (e.g. a `git archive` of a commit)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant runs (default 1)")
    args = parser.parse_args()
    if not 0 < args.sample < 1e9:
        parser.error(f"--sample must be a share in (0, 1] or a number of mutants, got {args.sample}")
    unknown = [n for n in args.modules if n not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; allowed: {', '.join(MODULES)}")
    if not (args.tree / "pyproject.toml").is_file():
        parser.error(f"--tree {args.tree} has no pyproject.toml; give a checkout of toyood")
    names = args.modules or [n for n, (path, _) in MODULES.items() if (args.tree / path).exists()]
    missing = [n for n in names if not (args.tree / MODULES[n][0]).exists()]
    if missing:
        parser.error(f"no file for {', '.join(missing)} ({', '.join(MODULES[n][0] for n in missing)})")
    results = [run_module(n, args.tree.resolve(), args.sample, args.seed, args.max_children) for n in names]
    for r in results:
        print(f"{r['module']:24s} mutants {r['mutants']:4d}  killed {r['killed']:4d}  survived {r['survived']:4d}"
              f"  other {r['other']:3d}  score {r['score']}")
        for survivor in r["survivors"]:
            print("    survived:", survivor)
    for name, r in zip(names, results):
        (WORK / f"{name}.json").write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
