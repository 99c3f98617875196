"""The real app in a child process on a loopback port, for benchmarks, load runs and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of a process (VmHWM: its peak), from /proc; 0 where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class AppServer:
    """`python app.py --port N ...` from the repository root; `with AppServer() as app: app.url`.

    `startup_seconds` is the time from the process start to the first page served.
    """

    def __init__(
        self,
        *args: str,
        checkpoints: str | Path = "checkpoints",
        env: dict[str, str] | None = None,
        log: Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.port = free_port()
        self.command = [sys.executable, "app.py", "--port", str(self.port), "--checkpoints", str(checkpoints), *args]
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.startup_seconds = float("nan")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> AppServer:
        output = open(self.log, "wb") if self.log else subprocess.DEVNULL
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
        )
        self._output = output
        try:
            self._wait_until_served()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_served(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the app did not serve {self.url} within {self.timeout:.0f} s")

    def rss(self, field: str = "VmRSS") -> int:
        return rss_bytes(self.process.pid, field) if self.process else 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log and hasattr(self, "_output"):
            self._output.close()
