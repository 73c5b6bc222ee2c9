"""Shared fixtures: the committed sample store and its labels."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
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


POSTGRES_URL = os.environ.get("LGSCOPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The Postgres test server's URL; skips without one, unless LGSCOPE_REQUIRE_POSTGRES=1."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        if os.environ.get("LGSCOPE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"LGSCOPE_REQUIRE_POSTGRES=1 but Postgres at {POSTGRES_URL} is unreachable: {exc}")
        pytest.skip(f"no Postgres at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg
    from psycopg import sql

    schema = f"lgscope_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_sample(postgres_url: str) -> str:
    """The sample threads written into a fresh Postgres schema through PostgresSaver."""
    from langgraph.checkpoint.postgres import PostgresSaver

    from lgscope.examples import REFERENCE_NOW, build_sample

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        build_sample(saver, reference_now=REFERENCE_NOW)
    return postgres_url
