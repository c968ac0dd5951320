"""Run ``qa ui`` as a child process on a free port and wait until it answers (for tests, benchmarks, screenshots).

This is the real server, started the way a person starts it; nothing is stubbed.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    corpus: Path
    index_dir: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _ready(url: str) -> bool:
    """The server answers HTTP (a login wall's 401 counts: it is up)."""
    try:
        with urllib.request.urlopen(f"{url}/gradio_api/info", timeout=2) as r:
            return r.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serve(corpus: Path, index_dir: Path, *, host: str = "127.0.0.1", port: int | None = None,
          auth: str | None = None, timeout: float = 240.0, log_path: Path | None = None):
    """Starts ``python -m qa ui`` on ``corpus`` and ``index_dir``; yields a :class:`Server` once it answers HTTP."""
    port = port or free_port(host)
    if log_path is None:
        log_path = Path(tempfile.mkstemp(prefix="qa-ui-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "qa", "ui", "--host", host, "--port", str(port), "--index-dir", str(index_dir),
           "--corpus", str(corpus)]
    if auth:
        cmd += ["--auth", auth]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://{host}:{port}", Path(corpus), Path(index_dir), process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"qa ui exited with status {process.returncode}:\n{server.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"qa ui did not answer within {timeout:.0f} s:\n{server.log()[-4000:]}")
            time.sleep(0.25)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stops the server (``qa ui`` treats SIGTERM like Ctrl-C and closes cleanly); kills it if it does not stop."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        process.send_signal(sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
