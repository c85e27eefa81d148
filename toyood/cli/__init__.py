"""``toyood SUBCOMMAND`` (or ``python -m toyood``): headless runs that print (and with --json, emit)
the app's numbers.

Each subcommand module in ``SUBCOMMANDS`` exposes ``configure(parser)`` and ``run(args) -> int`` and
is imported only when it is the one asked for, so ``toyood --help`` answers without importing
torch. Bad input raises ``CliError`` and ends as a one-line message on stderr with exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys

from .. import jsonutil

SUBCOMMANDS = {
    "toy": "Train a method on the 2-D two-Gaussian toy and report its OOD metrics.",
    "regions": "Enumerate the exact linear regions of a ReLU MLP in a box.",
    "gan": "Joint GAN + classifier training on the toy (Lee et al.), with boundary coverage.",
    "bench": "Image OOD benchmark (MNIST, Fashion-MNIST, SVHN, CIFAR) for the same methods.",
    "app": "Start the Streamlit app (from a checkout of the repository).",
}


class CliError(Exception):
    """Bad flags or a failed run: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CliError(f"{self.prog}: {message}")


def int_list(text: str) -> tuple[int, ...]:
    """Parse '500,500' into (500, 500)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 500,500, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return values


def seed_value(text: str) -> int:
    """A seed: a whole number in [0, 2^31)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number in [0, 2^31), got {text!r}")
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"a seed is a whole number in [0, 2^31), got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite number (no nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_threads_flag(parser: argparse.ArgumentParser, default_text: str = "1") -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help=f"intra-op CPU threads (default {default_text}, or $TOYOOD_THREADS): the toy's nets are "
                             "small, and more threads than free cores make torch spin-wait")


def print_json(obj) -> None:
    """The machine-readable result: one strict JSON object (no NaN/inf) as the last line of stdout."""
    print(jsonutil.dumps(obj, sort_keys=True), flush=True)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to add its flags (the others list their help)."""
    parser = _Parser(prog="toyood", description="toyood: ReLU overconfidence far from the data.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in SUBCOMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(f"toyood.cli.{name}")
            module.configure(subparser)
            subparser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = build_parser(command if command in SUBCOMMANDS else None).parse_args(argv)
        return args.run(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
