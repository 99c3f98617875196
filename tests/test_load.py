"""A short load run (CI's version of `python -m benchmarks.load`): no errors, bounded memory."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.load import parse_args

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_the_load_never_leaves_loopback(host, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--host", host])
    assert "loopback" in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_load_run_has_no_errors_and_bounded_memory(tmp_path):
    out = tmp_path / "load.json"
    command = [sys.executable, "-m", "benchmarks.load", "--users", "8", "--seconds", "20", "--json", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(out.read_text())
    assert result.returncode == 0, (report, result.stderr[-2000:])
    assert report["errors"] == 0 and report["requests_ok"] > 20
    assert report["rss_growth"] <= 0.10
