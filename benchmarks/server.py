"""The real app in a child process on a loopback port, for benchmarks, load runs and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
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
    """`python app.py --port N --checkpoints C ...` from the repository root; `with AppServer() as app: app.url`.

    As a context manager it starts the app, waits until "/" answers 200 (up to `timeout`) and stops
    it at the end. To start several at once (they then share the machine's load): `start()` each,
    then `wait_for(*servers, timeout=...)`, and `stop()` each.

    `startup_seconds` is the time from the process start to the first 200 on "/" that `ready()` saw.
    The environment is `base_env` (default: this process's) updated with `env`. With a `workdir`,
    the app gets a folder of its own: its log (workdir/app.log, unless `log` names another), TMPDIR
    (workdir/tmp) and GRADIO_TEMP_DIR (workdir/gradio), so nothing it serves or writes mixes with
    other gradio processes on the machine (they all default to /tmp/gradio); analytics are off and
    the output unbuffered.
    """

    def __init__(
        self,
        *args: str,
        checkpoints: str | Path = "checkpoints",
        env: Mapping[str, str] | None = None,
        base_env: Mapping[str, str] | None = None,
        log: Path | None = None,
        workdir: Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.port = free_port()
        self.command = [sys.executable, "app.py", "--port", str(self.port), "--checkpoints", str(checkpoints), *args]
        self.workdir = workdir
        self.log = log or (workdir / "app.log" if workdir else None)
        self.tmp = workdir / "tmp" if workdir else None
        own: dict[str, str] = {}
        if workdir:
            own = {
                "GRADIO_ANALYTICS_ENABLED": "False",
                "PYTHONUNBUFFERED": "1",  # the log's tail is up to date
                "TMPDIR": str(self.tmp),
                "GRADIO_TEMP_DIR": str(workdir / "gradio"),
            }
        self.env = {**(os.environ if base_env is None else base_env), **own, **(env or {})}
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.startup_seconds = float("nan")
        self.served = False
        self._started = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> AppServer:
        """Launch the process and return at once; `ready()` or `wait()` tell when it serves."""
        if self.tmp:
            self.tmp.mkdir(parents=True, exist_ok=True)
        if self.log:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        self._started = time.perf_counter()
        # The log goes to a file, never a pipe: a pipe nobody reads fills and blocks the app.
        with open(self.log, "wb") if self.log else open(os.devnull, "wb") as output:
            self.process = subprocess.Popen(
                self.command, cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        return self

    def ready(self) -> bool:
        """Poll "/" once: True once it has answered 200. Raises RuntimeError if the app has exited."""
        if self.served:
            return True
        if self.process is None:
            raise RuntimeError("the app was not started")
        if self.process.poll() is not None:
            raise RuntimeError(f"the app exited with code {self.process.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                if response.status == 200:
                    self.startup_seconds = time.perf_counter() - self._started
                    self.served = True
        except OSError:  # refused, reset, timed out or an HTTP error: not serving yet
            pass
        return self.served

    def wait(self, timeout: float | None = None) -> AppServer:
        """Until the app serves "/"; TimeoutError (with the log's tail) after `timeout` s (default: the one given)."""
        wait_for(self, timeout=self.timeout if timeout is None else timeout)
        return self

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the app's output; "" without a log file."""
        if not (self.log and self.log.exists()):
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

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

    def __enter__(self) -> AppServer:
        self.start()
        try:
            self.wait()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_for(*servers: AppServer, timeout: float, interval: float = 0.1) -> None:
    """Poll every server in turn until all serve; TimeoutError with the log tails of those that do not.

    Each server is polled every round, so each one's `startup_seconds` is its own even when
    another is slower. RuntimeError (from `ready()`) as soon as one has exited.
    """
    deadline = time.monotonic() + timeout
    while not all([server.ready() for server in servers]):  # a list: poll all of them, every round
        if time.monotonic() > deadline:
            waiting = [server for server in servers if not server.served]
            tails = "\n".join(f"--- {server.url} ---\n{server.log_tail() or '(no log)'}" for server in waiting)
            raise TimeoutError(f"the app did not serve within {timeout:.0f} s:\n{tails}")
        time.sleep(interval)
