"""A real Tryton ERP for Crossdock's tests and demos, run as a separate process.

Tryton lives in its own virtualenv (its dependencies must not mix with Crossdock's),
so this module never imports it: it creates that virtualenv, builds a database ready
for sales by running ``tryton_setup_db.py`` with the virtualenv's Python, and starts
``trytond`` on a free loopback port. Crossdock then talks to it over JSON-RPC like to
any customer's ERP.

    python -m crossdock.sandbox.tryton_harness --workdir var/tryton-demo
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TRYTON_REQUIREMENTS = [
    "trytond==8.2.*",
    "trytond-sale==8.2.*",
    "trytond-stock==8.2.*",
    "trytond-account-invoice-stock==8.2.*",
    "proteus==8.2.*",
]
SETUP_SCRIPT = Path(__file__).with_name("tryton_setup_db.py")
DEFAULT_DATABASE = "crossdock"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "Crossdock-Tryton-8"  # a sandbox credential; Tryton refuses shorter than 8
_MARKER = ".crossdock-installed"
# Variables of Crossdock's own environment that must not leak into Tryton's processes.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "DB_NAME", "DB_CACHE")


def _repo_root() -> Path:
    candidate = Path(__file__).resolve().parents[3]
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


def default_venv_path() -> Path:
    return Path(os.environ.get("CROSSDOCK_TRYTON_VENV") or _repo_root() / "var" / "tryton-venv")


def default_cache_dir() -> Path:
    return Path(os.environ.get("CROSSDOCK_TRYTON_DB_CACHE") or _repo_root() / "var" / "tryton-db-cache")


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent test processes build things once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV and not k.startswith("TRYTOND_")}
    env.update(extra)
    return env


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _installed(venv: Path) -> bool:
    marker = venv / _MARKER
    try:
        return json.loads(marker.read_text()) == TRYTON_REQUIREMENTS and _venv_python(venv).exists()
    except (OSError, ValueError):
        return False


def ensure_tryton_venv(path: Path | None = None) -> Path:
    """Create Tryton's virtualenv once and return its path; later calls return at once.

    A marker file records what was installed; it is written last, so an interrupted
    install is redone from scratch by the next caller.
    """
    venv = Path(path) if path is not None else default_venv_path()
    venv = venv.resolve()
    if _installed(venv):
        return venv
    with _file_lock(venv.parent / f".{venv.name}.lock"):
        if _installed(venv):  # another process finished it while we waited
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        env = _child_env()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run(
            [str(_venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *TRYTON_REQUIREMENTS],
            check=True, env=env,
        )
        (venv / _MARKER).write_text(json.dumps(TRYTON_REQUIREMENTS))
    return venv


def build_database(
    venv: Path,
    db_dir: Path,
    database: str = DEFAULT_DATABASE,
    password: str = ADMIN_PASSWORD,
    cache_dir: Path | None = None,
) -> dict:
    """Build (or restore from the template cache) a sales-ready SQLite database.

    Returns what the setup script reports: product ids by code, warehouse id, seconds.
    """
    cache = (cache_dir or default_cache_dir()).resolve()
    db_dir = Path(db_dir).resolve()
    cmd = [str(_venv_python(venv)), str(SETUP_SCRIPT), "--path", str(db_dir), "--name", database,
           "--cache", str(cache), "--password", password]
    with _file_lock(cache.parent / f".{cache.name}.lock"):
        done = subprocess.run(cmd, env=_child_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Tryton database build failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    """True once the server answers its version on the database-less JSON-RPC path."""
    body = json.dumps({"id": 0, "method": "common.server.version", "params": []}).encode()
    request = urllib.request.Request(f"{url}rpc/", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return "result" in json.loads(response.read())
    except (OSError, ValueError):
        return False


@dataclass
class TrytonServer:
    """A running trytond process and how to reach it."""

    url: str  # e.g. http://127.0.0.1:8123/
    database: str
    admin_user: str
    admin_password: str
    process: subprocess.Popen
    workdir: Path
    info: dict = field(default_factory=dict)  # products, warehouse, timings

    @property
    def rpc_url(self) -> str:
        return f"{self.url}{self.database}/rpc/"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> TrytonServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_config(workdir: Path, db_dir: Path, port: int) -> Path:
    conf = workdir / "trytond.conf"
    conf.write_text(
        "[database]\nuri = sqlite://\n"
        f"path = {db_dir}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n"
    )
    return conf


def start_tryton(
    workdir: Path,
    port: int | None = None,
    *,
    venv: Path | None = None,
    database: str = DEFAULT_DATABASE,
    startup_timeout: float = 60.0,
) -> TrytonServer:
    """Install (once), build a fresh database in `workdir`, start trytond, wait until it answers."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.monotonic()
    venv = ensure_tryton_venv(venv)
    timings["venv_s"] = round(time.monotonic() - started, 2)

    started = time.monotonic()
    db_dir = workdir / "db"
    info = build_database(venv, db_dir, database)
    timings["db_build_s"] = round(time.monotonic() - started, 2)

    last_error = ""
    for _attempt in range(3 if port is None else 1):
        chosen = port or _free_port()
        conf = _write_config(workdir, db_dir, chosen)
        log = open(workdir / "trytond.log", "ab")  # noqa: SIM115 - owned by the child process
        started = time.monotonic()
        process = subprocess.Popen(
            [str(venv / "bin" / "trytond"), "-c", str(conf), "-d", database],
            stdout=log, stderr=subprocess.STDOUT, env=_child_env(), start_new_session=True,
        )
        log.close()
        url = f"http://127.0.0.1:{chosen}/"
        deadline = started + startup_timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(url):
                timings["start_s"] = round(time.monotonic() - started, 2)
                info["timings"] = timings
                return TrytonServer(url, database, ADMIN_USER, ADMIN_PASSWORD, process, workdir, info)
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait()
        last_error = (workdir / "trytond.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"trytond did not start:\n{last_error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a sales-ready Tryton ERP for manual tries.")
    parser.add_argument("--workdir", type=Path, required=True, help="where the config, database and log go")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--venv", type=Path, default=None, help="default: $CROSSDOCK_TRYTON_VENV or var/tryton-venv")
    args = parser.parse_args(argv)
    server = start_tryton(args.workdir, args.port, venv=args.venv)
    print(f"Tryton URL:      {server.url}  (JSON-RPC: {server.rpc_url})")
    print(f"Database:        {server.database}")
    print(f"Admin:           {server.admin_user} / {server.admin_password}")
    print(f"Products:        {server.info.get('products')}")
    print(f"Timings:         {server.info.get('timings')}")
    print("Ctrl-C to stop.", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):
        server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
