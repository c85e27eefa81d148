"""``python -m toyood SUBCOMMAND``: headless runs that print (and with --json, emit) the app's numbers.

Each subcommand module exposes ``configure(parser)`` and ``run(args) -> int``; bad input raises
``CliError`` and ends as a one-line message on stderr with exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

SUBCOMMANDS = {
    "toy": "Train a method on the 2-D two-Gaussian toy and report its OOD metrics.",
    "regions": "Enumerate the exact linear regions of a ReLU MLP in a box.",
    "gan": "Joint GAN + classifier training on the toy (Lee et al.), with boundary coverage.",
    "bench": "Image OOD benchmark (MNIST, Fashion-MNIST, SVHN, CIFAR) for the same methods.",
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


class StderrProgress:
    """The ``progress(fraction, text)`` callback of the CLI: one rewritten line on stderr."""

    def __call__(self, fraction: float, text: str) -> None:
        print(f"\r{text}", end="", file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        print(file=sys.stderr)


def print_json(obj) -> None:
    """The machine-readable result: one JSON object as the last line of stdout."""
    print(json.dumps(obj, sort_keys=True), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m toyood", description="toyood: ReLU overconfidence far from the data.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in SUBCOMMANDS.items():
        module = _module(name)
        if module is not None:
            command = sub.add_parser(name, help=help_text, description=help_text)
            module.configure(command)
            command.set_defaults(run=module.run)
    return parser


def _module(name: str):
    try:
        return importlib.import_module(f"toyood.cli.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"toyood.cli.{name}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
