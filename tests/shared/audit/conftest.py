"""Audit test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.shared.audit.helpers import reap_sql_connections


@pytest.fixture(autouse=True)
def _reap_sql_connections() -> Iterator[None]:
    reap_sql_connections()  # leaks of earlier tests (other domains' too), before this one
    yield
    reap_sql_connections()
