"""A class at once: N sessions open one lecture view together on ``streamlit run serve.py``.

Measures what the server itself spends, since in a real class every browser runs on its own machine:
the server process's CPU-seconds (``/proc/<pid>/stat``, user + system) and resident memory
(``/proc/<pid>/status``: VmRSS before, and its peak while the sessions are open), and each session's
wall time from opening its connection to the end of its script run.

The client is light on purpose: each session is one websocket to ``/_stcore/stream`` speaking
Streamlit's own protocol, as the frontend does (a ``BackMsg.rerun_script`` with the link's query
string and page, then ``ForwardMsg``s until ``script_finished``), from one asyncio loop in this
process. Chromium would cost ~1 CPU-s per tab on the same two cores and distort the server's numbers;
``AppTest`` would run the script in the client's process, not in the server.

Two kinds of view: ``cached`` (the view's models are in the run cache and the server has drawn
them once: what a class costs when the lecturer's warm start has run) and ``new`` (each session asks
for a model nobody has trained: a 2×64 net with its own seed; the server trains them fairly in turn
over its workers). ``--profile`` runs the cached view's script under cProfile (``AppTest``, in this
process) and prints where its CPU time goes.

    python benchmarks/bench_classroom.py --sessions 1,8,30 --kinds cached,new
    python benchmarks/bench_classroom.py --profile
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
CACHED_QUERY = "method=plain&hidden=64,64&seed=7"  # a 2×64 net (the issue's): cached before measuring
NEW_QUERY = "method=plain&hidden=64,64&seed={seed}"  # every session its own, untrained model
PAGE = "playground"
TICKS = os.sysconf("SC_CLK_TCK")
SESSION_TIMEOUT = 900.0
ALERT_ERROR = 1  # streamlit.proto.Alert.Format.ERROR


def cpu_seconds(pid: int) -> float:
    """User + system CPU-seconds of process ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(cache: Path, port: int, log: Path, script: str, warm_timeout: float) -> subprocess.Popen:
    """``streamlit run <script>`` headless on ``port`` with its run cache in ``cache``; returns once it
    answers and (serve.py) its warm start is done, so that none of its work is counted."""
    env = {**os.environ, "TOYOOD_APP_CACHE": str(cache), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.port",
               str(port), "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + warm_timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit code {server.returncode}); see {log}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
            if script != "serve.py" or "warm start" in log.read_text():
                return server
        time.sleep(1.0)
    server.terminate()
    raise SystemExit(f"the server was not ready within {warm_timeout:.0f} s; see {log}")


async def open_session(port: int, query: str, page: str = PAGE) -> dict:
    """One student: connect, ask for the page with the link's query, read until the script run ends."""
    start = time.perf_counter()
    errors, received = [], 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, open_timeout=SESSION_TIMEOUT) as stream:
        message = BackMsg()
        message.rerun_script.query_string, message.rerun_script.page_name = query, page
        await stream.send(message.SerializeToString())
        while True:
            data = await asyncio.wait_for(stream.recv(), SESSION_TIMEOUT)
            received += len(data)
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                if element.WhichOneof("type") == "exception":
                    errors.append(element.exception.message)
                elif element.WhichOneof("type") == "alert" and element.alert.format == ALERT_ERROR:
                    errors.append(element.alert.body[:200])
            if kind == "script_finished" and forward.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return {"wall": time.perf_counter() - start, "bytes": received, "errors": errors}


async def open_together(port: int, queries: list[str], pid: int) -> tuple[list[dict], int]:
    """Every query as its own session, all at once; the results and the server's peak RSS meanwhile."""
    peak = rss_bytes(pid)
    sessions = asyncio.gather(*(open_session(port, query) for query in queries))
    while not sessions.done():
        peak = max(peak, rss_bytes(pid))
        await asyncio.wait([sessions], timeout=0.1)
    return sessions.result(), peak


def measure(port: int, pid: int, queries: list[str]) -> dict:
    """Open the sessions together; per-session wall times, the server's CPU-seconds and memory."""
    time.sleep(2.0)  # let the server settle (the previous sessions' teardown)
    cpu, rss = cpu_seconds(pid), rss_bytes(pid)
    results, peak = asyncio.run(open_together(port, queries, pid))
    walls = sorted(result["wall"] for result in results)
    return {"n": len(queries), "cpu": cpu_seconds(pid) - cpu, "rss_before": rss, "rss_peak": peak,
            "wall_min": walls[0], "wall_median": walls[len(walls) // 2], "wall_max": walls[-1],
            "kib": sum(result["bytes"] for result in results) / len(results) / 1024,
            "errors": [error for result in results for error in result["errors"]]}


def report(kind: str, row: dict) -> None:
    print(f"{kind:7s} N={row['n']:3d}  wall per session {row['wall_min']:6.2f} / {row['wall_median']:6.2f} / "
          f"{row['wall_max']:6.2f} s (min/median/max)  server CPU {row['cpu']:7.2f} s = "
          f"{row['cpu'] / row['n']:5.3f} s per session  RSS {row['rss_before'] / 2**20:5.0f} → peak "
          f"{row['rss_peak'] / 2**20:5.0f} MiB  {row['kib']:6.0f} KiB sent per session  errors {len(row['errors'])}",
          flush=True)
    for error in row["errors"][:3]:
        print(f"    error: {error}", flush=True)
    if row["errors"]:
        print("    these numbers are not valid: sessions ended in an error (the server's log says why)", flush=True)


def profile_cached_view(repeats: int) -> None:
    """The cached view's script runs under cProfile, in this process (``AppTest``): where a session's
    CPU time goes. The first run (which trains or loads the model and fills the caches) is not counted."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
    from streamlit.testing.v1 import AppTest

    profiler, original = cProfile.Profile(), ScriptRunner._run_script

    def profiled(self, *args, **kwargs):
        profiler.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            profiler.disable()
    query = dict(pair.split("=") for pair in CACHED_QUERY.split("&"))
    for repeat in range(repeats + 1):
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        app.query_params.update(query)
        app.run()
        start = time.process_time()
        if repeat:
            ScriptRunner._run_script = profiled
        app.switch_page("app_pages/playground.py").run()
        ScriptRunner._run_script = original
        print(f"script run {repeat}: {time.process_time() - start:.3f} CPU-s in this process"
              + (" (not profiled: fills the caches)" if not repeat else ""), flush=True)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
    ours = f"{ROOT}/(toyood|toyood_app|app_pages|app\\.py)"  # the app's own functions, cumulative
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(ours, 40)
    print(text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,8,30", help="comma list of N (default 1,8,30)")
    parser.add_argument("--kinds", default="cached,new", help="cached, new or both (default cached,new)")
    parser.add_argument("--script", default="serve.py", choices=["serve.py", "app.py"])
    parser.add_argument("--cache", type=Path, help="the run cache to use (default: a new temporary folder)")
    parser.add_argument("--warm-timeout", type=float, default=1800.0, help="seconds to wait for the warm start")
    parser.add_argument("--profile", type=int, nargs="?", const=5, default=0,
                        help="profile N cached script runs instead (AppTest, cProfile; default 5)")
    args = parser.parse_args()
    try:
        counts = [int(n) for n in args.sessions.split(",")]
        kinds = args.kinds.split(",")
        assert all(n > 0 for n in counts) and kinds and set(kinds) <= {"cached", "new"}
    except (ValueError, AssertionError):
        parser.error("--sessions takes positive whole numbers (1,8,30) and --kinds cached and/or new")
    if args.profile:
        profile_cached_view(args.profile)
        return
    with tempfile.TemporaryDirectory(prefix="toyood-classroom-") as scratch:
        cache = args.cache or Path(scratch) / "runs"
        port, log = free_port(), Path(scratch) / "server.log"
        started = time.perf_counter()
        server = start_server(cache, port, log, args.script, args.warm_timeout)
        print(f"{args.script} on port {port} ready after {time.perf_counter() - started:.0f} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        try:
            failed = run_all(port, server.pid, counts, kinds)
        finally:
            server.terminate()
            server.wait(30)
        if failed:
            print(f"--- the server's log ---\n{log.read_text()[-4000:]}")
            raise SystemExit(1)


def run_all(port: int, pid: int, counts: list[int], kinds: list[str]) -> int:
    """Each kind of view for each N; the number of sessions that ended in an error."""
    rows = []
    if "cached" in kinds:
        first = asyncio.run(open_session(port, CACHED_QUERY))  # trains (or loads) it once, draws it once
        print(f"first visit of the cached view: {first['wall']:.1f} s (not counted)", flush=True)
        for n in counts:
            rows.append(measure(port, pid, [CACHED_QUERY] * n))
            report("cached", rows[-1])
    if "new" in kinds:
        seed = 1000 + int(time.time()) % 100000 * 100  # models no earlier run of this benchmark cached
        for n in counts:
            rows.append(measure(port, pid, [NEW_QUERY.format(seed=seed + i) for i in range(n)]))
            report("new", rows[-1])
            seed += n
    return sum(len(row["errors"]) for row in rows)


if __name__ == "__main__":
    main()
