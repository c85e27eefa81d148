"""Time until each app page is ready in Chromium: cold (fresh server, the interactive preset trains)
and cached (reloads with the models in the server's cache), plus the server-side script time of a
cached rerun (AppTest), which separates Python from browser time.

    .venv/bin/python benchmarks/bench_app.py [--reloads 5] [--out artifacts/bench_app.json]

Targets: cached ≤ 1.5 s, cold playground ≤ 8 s. Uses the browser test's server and wait helpers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.test_browser import PAGES, VIEWPORT, chromium, streamlit_server, wait_until_ready  # noqa: E402

SCRIPTS = {"playground": "pages/1_Playground.py", "linear_regions": "pages/2_Linear_regions.py",
           "far_away": "pages/3_Far_away.py"}


def browser_times(reloads: int) -> dict:
    results = {}
    with streamlit_server() as url, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        for path, name, min_plots in PAGES:
            page.goto(f"{url}/{path}")
            cold = wait_until_ready(page, min_plots)
            cached = []
            for _ in range(reloads):
                page.reload()
                cached.append(wait_until_ready(page, min_plots))
            results[name] = {"cold_s": round(cold, 2), "cached_median_s": round(statistics.median(cached), 2),
                             "cached_max_s": round(max(cached), 2)}
            print(name, results[name], flush=True)
    return results


def script_times() -> dict:
    """Seconds of one cached rerun of each page script (models trained by the first run)."""
    results = {}
    for name, script in SCRIPTS.items():
        app = AppTest.from_file(str(ROOT / script), default_timeout=600).run()
        start = time.perf_counter()
        app.run()
        results[name] = round(time.perf_counter() - start, 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=5, help="cached reloads per page (median reported)")
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "bench_app.json"))
    args = parser.parse_args()
    report = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "browser": browser_times(args.reloads),
              "script_rerun_s": script_times()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
