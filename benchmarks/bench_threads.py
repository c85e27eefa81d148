"""Toy training at 1 and 2 torch threads, alone and next to a second busy process on the same cores.

    python benchmarks/bench_threads.py [--limit 90] [--epochs 40]

A reject-class run (interactive preset, 2×500) trains in a fresh process at 1 or 2 intra-op
threads (and 2 threads with OMP_WAIT_POLICY=passive): alone; next to a pure-Python busy loop (one
core); next to a torch process multiplying small matrices on 1 thread; and on 2 threads (the
OpenMP spin-wait case). Each competitor is started before and killed after its measurement, and
ends by itself after the limit. A run slower than ``--limit`` seconds is stopped and its time
extrapolated from the epochs done (marked '>'). This decides ``toyood.device.thread_count``'s default.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

COMPETITORS = {
    "alone": None,
    "+python loop": "import time\nend = time.time() + {limit}\nprint('ready', flush=True)\n"
                    "while time.time() < end: pass\n",
    "+torch 1 thr": "import time, torch\ntorch.set_num_threads(1)\na, b = torch.randn(128, 500), torch.randn(500, 500)\n"
                    "end = time.time() + {limit}\nprint('ready', flush=True)\nwhile time.time() < end: a @ b\n",
    "+torch 2 thr": "import time, torch\ntorch.set_num_threads(2)\na, b = torch.randn(128, 500), torch.randn(500, 500)\n"
                    "end = time.time() + {limit}\nprint('ready', flush=True)\nwhile time.time() < end: a @ b\n",
}
SETTINGS = {"1 thread": (1, {}), "2 threads": (2, {}), "2 thr, passive": (2, {"OMP_WAIT_POLICY": "passive"})}


def measure(threads: int, epochs: int, limit: float) -> None:
    """In the child: train once, print the (possibly extrapolated) training seconds."""
    import torch  # noqa: PLC0415

    from toyood.device import use_threads  # noqa: PLC0415
    from toyood.errors import Cancelled  # noqa: PLC0415
    from toyood.toy import ToyConfig, train_toy  # noqa: PLC0415

    use_threads(threads)
    train_toy(ToyConfig(method="reject", epochs=1, hidden=(16, 16), device="cpu"))  # one-time imports
    done = [0.0]
    start = time.perf_counter()

    def stop_late(fraction: float, _text: str) -> None:
        done[0] = fraction
        if time.perf_counter() - start > limit:
            raise Cancelled

    try:
        seconds = train_toy(ToyConfig(method="reject", epochs=epochs, device="cpu"), stop_late).train_seconds
        print(f"{seconds:.3f}")
    except Cancelled:
        print(f">{(time.perf_counter() - start) / done[0]:.3f}")
    assert torch.get_num_threads() == threads


def run_one(threads: int, env: dict, competitor: str | None, epochs: int, limit: float) -> str:
    rival = None
    if competitor is not None:
        rival = subprocess.Popen([sys.executable, "-c", competitor.format(limit=3 * limit)],
                                 stdout=subprocess.PIPE, text=True)
        rival.stdout.readline()  # 'ready'
    try:
        child = subprocess.run([sys.executable, __file__, "--measure", str(threads), "--epochs", str(epochs),
                                "--limit", str(limit)], env={**os.environ, **env}, capture_output=True,
                               text=True, timeout=4 * limit + 120)
        if child.returncode != 0:
            raise RuntimeError(child.stderr[-2000:])
        return child.stdout.strip().splitlines()[-1]
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=90.0, help="stop a run after this many seconds")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure, args.epochs, args.limit)
        return
    print(f"reject, interactive preset, {args.epochs} epochs, 2×500: training seconds (slowdown vs alone, "
          f"vs 1 thread alone); load %.2f %.2f %.2f" % os.getloadavg())
    print(f"{'':<16}" + "".join(f"{name:>24}" for name in COMPETITORS))
    reference = None
    for label, (threads, env) in SETTINGS.items():
        cells, alone = [], None
        for competitor in COMPETITORS.values():
            text = run_one(threads, env, competitor, args.epochs, args.limit)
            seconds = float(text.lstrip(">"))
            alone = alone or seconds
            reference = reference or seconds
            cells.append(f"{text} s ({seconds / alone:.1f}×, {seconds / reference:.1f}×)")
        print(f"{label:<16}" + "".join(f"{cell:>24}" for cell in cells), flush=True)
    print("load at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
