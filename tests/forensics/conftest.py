from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def damaged_sample(sample_store: Path, tmp_path: Path) -> Path:
    """A copy of the sample store whose review-bounce thread has one truncated checkpoint."""
    path = tmp_path / "damaged.sqlite"
    shutil.copyfile(sample_store, path)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE checkpoints SET checkpoint = x'c1c1' WHERE thread_id = 'review-bounce' AND checkpoint_id = "
            "(SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'review-bounce' ORDER BY checkpoint_id "
            "LIMIT 1 OFFSET 4)"
        )
    return path
