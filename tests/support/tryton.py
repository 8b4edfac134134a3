"""A real Tryton ERP for the tests that need one (opt-in: CROSSDOCK_TEST_TRYTON=1).

Import `tryton` (the session-scoped server fixture) and `needs_tryton` (the marks) into a
test module. The first run installs Tryton into var/tryton-venv and builds the database
template; later runs reuse both.
"""

from __future__ import annotations

import os

import pytest

needs_tryton = [
    pytest.mark.tryton,
    pytest.mark.skipif(
        os.environ.get("CROSSDOCK_TEST_TRYTON") != "1",
        reason="real Tryton ERP tests: set CROSSDOCK_TEST_TRYTON=1 to run them",
    ),
]


@pytest.fixture(scope="session")
def tryton(tmp_path_factory):
    from crossdock.sandbox.tryton_harness import start_tryton

    server = start_tryton(tmp_path_factory.mktemp("tryton"))
    yield server
    server.stop()
