"""Shared fixtures: the committed sample store and its labels."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE = FIXTURES / "stores" / "sample.sqlite"


@pytest.fixture(scope="session")
def labels() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "labels.json").read_text())
    return data


@pytest.fixture(scope="session")
def reference_now(labels: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(labels["reference_now"])


@pytest.fixture
def sample_store() -> Path:
    """The committed sample store (read it only; copy it with `sample_copy` to write)."""
    return SAMPLE


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of the sample store that a test may write to."""
    target = tmp_path / "sample.sqlite"
    shutil.copyfile(SAMPLE, target)
    return target
