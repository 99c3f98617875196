"""A stand-in for the Hugging Face Hub, and a loader to run in a child process.

There is no internet here, so the Hub-path tests point HF_ENDPOINT at `HubStandIn`: two
threading http.servers on 127.0.0.1 that answer the requests `hf_hub_download` makes
(huggingface_hub 2.4, file_download.py and utils/_http.py), and nothing else:

- HEAD {endpoint}/{repo_id}/resolve/{revision}/{filename} gives the file's metadata. A small
  file answers 200 with X-Repo-Commit, ETag (its git blob sha1) and Content-Length. A large
  (LFS) file answers 302 with X-Repo-Commit, X-Linked-Etag (its sha256), X-Linked-Size and a
  Location on another origin, as the Hub redirects to its CDN; huggingface_hub does not follow
  a redirect that leaves the Hub and reads the metadata from the 302 itself.
- GET of the resolve URL (small files) or of the Location (LFS files) gives the bytes.
- Unknown repos, revisions and files answer 404 with the Hub's X-Error-Code (RepoNotFound,
  RevisionNotFound, EntryNotFound), which hf_raise_for_status turns into the matching error.

huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE, HF_HUB_OFFLINE and its timeouts once, at import
(huggingface_hub.constants), so `run_loads` starts `python tests/hub_stand_in.py` with that
environment; the child calls load_model for each request and prints one JSON line of outcomes.

`SilentServer` is the other Hub: one that accepts connections and never answers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
RESOLVE_PATH = re.compile(r"/(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)")
BLOB_PATH = re.compile(r"/blobs/(?P<sha256>[0-9a-f]{64})")
Answer = tuple[int, dict[str, str], bytes]


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content: the Hub's ETag for files stored in git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def not_found(error_code: str, message: str, **headers: str) -> Answer:
    return 404, {"X-Error-Code": error_code, "X-Error-Message": message, **headers}, message.encode()


class HubStandIn:
    """Repos of files, branches pointing at commits, and the HTTP face of both.

    `requests` logs every request ("HEAD /owner/name/resolve/main/config.json"). `after_request`,
    if set, is called with each log line once its answer is decided and before it is sent, so
    what it changes (tests push mid-download) is in place for every later request.
    """

    def __init__(self) -> None:
        self.branches: dict[str, dict[str, str]] = {}  # repo_id -> branch -> commit
        self.trees: dict[tuple[str, str], dict[str, bytes]] = {}  # (repo_id, commit) -> files
        self.blobs: dict[str, bytes] = {}  # sha256 -> LFS file content, served by the "CDN"
        self.requests: list[str] = []
        self.after_request: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []

    # --- repos -------------------------------------------------------------------------

    def push(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Commit `files` as the whole tree of `branch`; returns the new commit id."""
        digest = hashlib.sha1(f"{repo_id}\0{branch}\0{len(self.trees)}".encode())
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + git_blob_sha1(files[name]).encode())
        commit = digest.hexdigest()
        with self._lock:
            self.trees[(repo_id, commit)] = dict(files)
            self.branches.setdefault(repo_id, {})[branch] = commit
            self.blobs.update({hashlib.sha256(data).hexdigest(): data for data in files.values()})
        return commit

    def push_folder(self, repo_id: str, folder: Path, branch: str = "main") -> str:
        files = {path.name: path.read_bytes() for path in Path(folder).iterdir() if path.is_file()}
        return self.push(repo_id, files, branch)

    def move_branch(self, repo_id: str, branch: str, commit: str) -> None:
        with self._lock:
            self.branches[repo_id][branch] = commit

    # --- HTTP ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return _origin(self._servers[0])

    @property
    def cdn(self) -> str:
        return _origin(self._servers[1])

    def __enter__(self) -> HubStandIn:
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.stand_in = self  # type: ignore[attr-defined]
            server.role = role  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, name=f"hub-stand-in-{role}", daemon=True).start()
            self._servers.append(server)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def answer(self, role: str, path: str) -> Answer:
        path = urlsplit(path).path
        if role == "cdn":
            match = BLOB_PATH.fullmatch(path)
            if match is None or match["sha256"] not in self.blobs:
                return 404, {}, b"no such blob"
            return 200, {"Content-Type": "application/octet-stream"}, self.blobs[match["sha256"]]
        match = RESOLVE_PATH.fullmatch(path)
        if match is None:
            return 404, {}, b"the stand-in only answers /{repo_id}/resolve/{revision}/{filename}"
        return self._resolve(match["repo"], unquote(match["revision"]), unquote(match["filename"]))

    def _resolve(self, repo_id: str, revision: str, filename: str) -> Answer:
        with self._lock:
            branches = self.branches.get(repo_id)
            if branches is None:
                return not_found("RepoNotFound", "Repository not found")
            commit = branches.get(revision, revision)
            files = self.trees.get((repo_id, commit))
        if files is None:
            return not_found("RevisionNotFound", f"Invalid rev id: {revision}")
        if filename not in files:
            return not_found("EntryNotFound", f"{filename} does not exist on {revision}", **{"X-Repo-Commit": commit})
        data = files[filename]
        if not filename.endswith(LFS_SUFFIXES):
            headers = {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(data)}"', "Content-Type": "text/plain"}
            return 200, headers, data
        sha256 = hashlib.sha256(data).hexdigest()
        return (
            302,
            {
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{sha256}"',
                "X-Linked-Size": str(len(data)),
                "ETag": f'"{git_blob_sha1(sha256.encode())}"',  # the LFS pointer's id, which the client must not use
                "Location": f"{self.cdn}/blobs/{sha256}",
            },
            b"Found. Redirecting",
        )

    def _record(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def _respond(self, *, with_body: bool) -> None:
        stand_in: HubStandIn = self.server.stand_in  # type: ignore[attr-defined]
        line = f"{self.command} {self.path}"
        stand_in._record(line)
        status, headers, body = stand_in.answer(self.server.role, self.path)  # type: ignore[attr-defined]
        if stand_in.after_request is not None:
            stand_in.after_request(line)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # `requests` is the log; stderr stays quiet


def _origin(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def closed_port() -> int:
    """A loopback port with nothing listening: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """A loopback TCP server that accepts connections and never answers: a Hub that hangs."""

    def __enter__(self) -> SilentServer:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                self.connections.append(self.sock.accept()[0])
            except TimeoutError:
                continue

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
        for connection in self.connections:
            connection.close()
        self.sock.close()


# --- no internet: refuse any connection that would leave this machine ------------------------


def forbid_non_loopback(setattr_: Callable[[object, str, Any], None] = setattr) -> None:
    """Make name lookups and connections to anything but loopback fail at once.

    Pass pytest's monkeypatch.setattr to have the guard undone after a test.
    """
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise OSError(f"test guard: refused to connect to non-loopback {address!r}")
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise OSError(f"test guard: refused to look up non-loopback host {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    setattr_(socket.socket, "connect", connect)
    setattr_(socket, "getaddrinfo", getaddrinfo)


def _is_loopback(host: str | bytes) -> bool:
    host = host.decode() if isinstance(host, bytes) else host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the child process -------------------------------------------------------------------


def state_digest(model: Any) -> dict[str, str]:
    """Every tensor of a state dict, as dtype, shape and a hash of its bytes."""
    return {
        name: f"{tensor.dtype} {tuple(tensor.shape)} {hashlib.sha256(tensor.cpu().numpy().tobytes()).hexdigest()}"
        for name, tensor in model.state_dict().items()
    }


def hub_env(endpoint: str, cache: Path, *, offline: bool = False) -> dict[str, str]:
    """This environment, less every Hub, proxy and token setting, plus ours."""
    dropped = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(dropped) and "proxy" not in key.lower() and key != "PYTHONPATH"
    }
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(cache.parent / "hf_home"),  # no token file, no shared state
        HF_HUB_CACHE=str(cache),
        HF_HUB_OFFLINE="1" if offline else "0",
        HF_HUB_ETAG_TIMEOUT="2",
        HF_HUB_DOWNLOAD_TIMEOUT="2",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def run_loads(
    requests: list[dict[str, Any]],
    *,
    endpoint: str,
    cache: Path,
    offline: bool = False,
    skip_backoff: bool = False,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """load_model(**request, device="cpu") for each request, in a child with the Hub environment set.

    Each outcome is {"class", "training", "digest", "seconds"} or {"error", "message", "seconds"}.
    """
    command = [sys.executable, __file__, json.dumps(requests), *(["--skip-backoff"] if skip_backoff else [])]
    env = hub_env(endpoint, cache, offline=offline)
    child = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    if child.returncode != 0:
        raise AssertionError(f"the loader child failed ({child.returncode}):\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _load_outcome(load_model: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    start = time.monotonic()
    try:
        model = load_model(**request, device="cpu")
    except Exception as err:  # the test asserts it is a ModelLoadError, not this
        return {"error": type(err).__name__, "message": str(err), "seconds": time.monotonic() - start}
    outcome = {"class": type(model).__name__, "training": model.training, "digest": state_digest(model)}
    return {**outcome, "seconds": time.monotonic() - start}


def _main(argv: list[str]) -> None:
    forbid_non_loopback()
    if "--skip-backoff" in argv:
        # huggingface_hub retries an unreachable endpoint 5 times, sleeping 1+2+4+8+8 s in between
        # whatever HF_HUB_ETAG_TIMEOUT says; the test wants the outcome, not the wait.
        time.sleep = lambda seconds: None
    from vae_models import load_model

    print(json.dumps([_load_outcome(load_model, request) for request in json.loads(argv[1])]))


if __name__ == "__main__":
    _main(sys.argv)
