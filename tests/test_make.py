"""The README's entry points as `make` runs them: the demo's port, the test run's skip reasons, a clean build."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(*args: str) -> str:
    """What `make` would run, without running it."""
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_demo_takes_a_port() -> None:
    assert "budget-bot demo --port 8123" in planned("demo", "PORT=8123")
    assert "budget-bot demo --port 8000" in planned("demo")


def test_make_test_shows_why_a_test_was_skipped() -> None:
    assert "pytest -q -rs" in planned("test")


def test_the_license_is_an_spdx_string_so_setuptools_does_not_warn() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
