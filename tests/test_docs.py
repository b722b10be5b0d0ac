"""The README and the guide tell the truth: their figures are rendered from kept runs."""

from __future__ import annotations

from pathlib import Path

import tomllib

from dropout_ports.benchmarks import readme

ROOT = Path(__file__).parents[1]


def test_every_rendered_figure_matches_the_kept_runs():
    """Fails when a table was edited by hand or a kept run changed without re-rendering."""
    for name in readme.FILES:
        text = (ROOT / name).read_text()
        assert readme.render(text) == text, f"{name} is stale: run python -m dropout_ports.benchmarks.readme"


def test_the_readme_renders_every_block_it_promises():
    text = (ROOT / "README.md").read_text()
    for name in ("compare", "bench-dropout", "bench-training"):
        assert f"<!-- begin {name} -->\n`" in text  # each block opens with the command that made it


def test_licence_file_matches_the_declared_licence():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_readme_names_the_edition_and_the_torch_wheel():
    text = (ROOT / "README.md").read_text()
    assert "earlier edition" in text and "download.pytorch.org/whl/cpu" in text
