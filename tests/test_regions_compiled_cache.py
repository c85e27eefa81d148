"""The compiled cutter's on-disk cache (toyood.regions.compiled, numba ``cache=True``): ``warm_compile``
compiles what a first enumeration runs, ``NUMBA_CACHE_DIR`` moves the cache, and a source folder that
cannot hold a ``__pycache__`` (a read-only install) falls back to the user's cache folder."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")
from toyood.regions import compiled  # noqa: E402

CUT_ONCE = """
import json, numpy as np
{load}
px, py = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0, 1.0])
compiled._cut_polygon(px, py, 4, 1.0, 0.0, -0.5, 1e-12, *[np.empty(8) for _ in range(4)])
stats = compiled._cut_polygon.stats
print(json.dumps([stats.cache_path, sum(stats.cache_hits.values())]))
"""


FIRST_USE = """
import numpy as np
from numba.core.registry import CPUDispatcher
from toyood.regions import compiled, enumerate_regions, warm_compile
from test_regions import default_init, random_net

def signatures():
    return sum(len(f.signatures) for f in vars(compiled).values() if isinstance(f, CPUDispatcher))

assert signatures() == 0
warm_compile()
warmed = signatures()
assert compiled._advance.signatures and compiled._root.signatures, "warm_compile compiled nothing"
for layers, box, slope in [(default_init((40, 40), seed=2), 10.0, 0.0), (random_net([2, 9, 7, 3], seed=4), 3.0, 0.2),
                           (default_init((12, 20), seed=5), (1.0, 4.0, -2.0, 0.5), 0.0)]:
    layers = [(np.asfortranarray(w), b) for w, b in layers]  # any layout: the cutter takes C copies
    assert len(enumerate_regions(layers, box, slope, engine="compiled")) > 1
assert signatures() == warmed, f"a first enumeration after warm_compile compiled {signatures() - warmed} more"
"""


def test_warm_compile_compiles_every_signature_a_first_enumeration_uses():
    """In a fresh process (its cache loaded or compiled: the same signatures either way)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("where", ["NUMBA_CACHE_DIR", "read-only source folder"])
def test_the_cache_goes_where_numba_can_write_and_a_second_process_loads_it(tmp_path, where):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", XDG_CACHE_HOME=str(tmp_path / "user-cache"))
    if where == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
        load, expected = "from toyood.regions import compiled", tmp_path / "cache"
    else:
        installed = tmp_path / "installed"
        installed.mkdir()
        shutil.copy(compiled.__file__, installed / "compiled.py")
        (installed / "__pycache__").write_text("")  # no cache folder can be made beside the source
        env["PYTHONPATH"] = str(installed)
        load, expected = "import compiled", tmp_path / "user-cache" / "numba"
    runs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", CUT_ONCE.format(load=load)], capture_output=True, text=True,
                                timeout=300, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append(json.loads(result.stdout.splitlines()[-1]))
    (path, first_hits), (path_again, second_hits) = runs
    assert path is not None, "no on-disk cache (cache=True in compiled.JIT)"
    assert Path(path).is_relative_to(expected) and list(Path(path).glob("compiled._cut_polygon-*.nbi"))
    assert path_again == path and (first_hits, second_hits) == (0, 1)
