"""Finds the vendor sample payloads shared by every Crossdock checkout.

The `shared` folder is a sibling of the repository folder (``<repo>/../shared``);
``CROSSDOCK_VENDOR_FIXTURES`` overrides the location. Tests that need a sample are
skipped, with the reason, when the samples are not there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def vendor_dir() -> Path:
    override = os.environ.get("CROSSDOCK_VENDOR_FIXTURES")
    return Path(override) if override else (REPO_ROOT / ".." / "shared" / "fixtures" / "vendor").resolve()


def vendor_path(system: str, name: str) -> Path:
    path = vendor_dir() / system / name
    if not path.is_file():
        pytest.skip(
            f"vendor sample {system}/{name} not found under {vendor_dir()} (set CROSSDOCK_VENDOR_FIXTURES)"
        )
    return path


def load_vendor_json(system: str, name: str) -> Any:
    return json.loads(vendor_path(system, name).read_text(encoding="utf-8"))
