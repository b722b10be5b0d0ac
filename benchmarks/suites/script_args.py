"""The arguments every benchmark script takes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from dropout_ports.backends import available_backends
from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.results.tables import markdown_table


def script_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=available_backends())
    parser.add_argument("--device", default="cpu", help="cpu or gpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few repeats")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    return parser


def table_script(doc: str, run: Callable[..., list[dict]], columns: Sequence, key: str,
                 argv: list[str] | None = None) -> None:  # fmt: skip
    """The main of a script whose run(backends, device=, quick=) gives table rows: print them as
    markdown and, with --out, write them as JSON under key."""
    args = script_parser(doc).parse_args(argv)
    rows = run(args.backends, device=args.device, quick=args.quick)
    print(markdown_table(rows, columns))
    if args.out:
        write_json_atomic(args.out, {key: rows})
