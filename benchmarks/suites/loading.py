"""Data loading: seconds to read, verify and convert the four local IDX files (target: < 1 s).
Run: python -m dropout_ports.benchmarks.suites.loading [--out FILE.json]
"""

from __future__ import annotations

from dropout_ports.benchmarks.results.store import write_json_atomic
from dropout_ports.benchmarks.suites.script_args import script_parser
from dropout_ports.common.data import find_data_dir, load_fashion_mnist
from dropout_ports.common.timing import median_seconds


def run(quick: bool = False) -> dict:
    folder = find_data_dir()
    if folder is None:
        return {"folder": None, "load_s": None}
    seconds = median_seconds(
        lambda: load_fashion_mnist(folder, download=False), min_total=0.0, min_repeats=2 if quick else 5
    )
    return {"folder": str(folder), "load_s": seconds}


def main(argv: list[str] | None = None) -> None:
    args = script_parser(__doc__).parse_args(argv)
    result = run(args.quick)
    print(f"load_fashion_mnist from {result['folder']}: {result['load_s']:.3f} s (median)")
    if args.out:
        write_json_atomic(args.out, {"data": result})


if __name__ == "__main__":
    main()
