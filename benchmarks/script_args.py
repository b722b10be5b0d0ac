"""The arguments every benchmark script takes."""

from __future__ import annotations

import argparse

from backends import available_backends


def script_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=available_backends())
    parser.add_argument("--device", default="cpu", help="cpu or gpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few repeats")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    return parser
