"""``toyood app``: start the Streamlit app of a checkout (``streamlit run serve.py``: warm start)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import CliError

APP_SCRIPT = Path(__file__).resolve().parents[2] / "serve.py"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    parser.add_argument("--headless", action="store_true", help="do not open a browser")


def run(args: argparse.Namespace) -> int:
    if not APP_SCRIPT.is_file():
        raise CliError(f"the app runs from a checkout of the repository: {APP_SCRIPT} is missing "
                       "(install with pip install -e . from the checkout)")
    if not 1 <= args.port <= 65535:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}")
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--server.port", str(args.port)]
    if args.headless:
        command += ["--server.headless", "true"]
    os.chdir(APP_SCRIPT.parent)
    os.execv(sys.executable, command)
    return 0  # not reached
