"""The README's Python example runs exactly as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def model_example() -> str:
    return next(block for block in python_blocks() if "load_model" in block)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    # Run in the repository root, where the example's checkpoints/ folder is; the save goes to tmp_path.
    example = model_example().replace('"my-vae"', repr(str(tmp_path / "my-vae")))
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=README.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(README.parent), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "torch.Size([4, 8])" in result.stdout
    assert (tmp_path / "my-vae" / "model.safetensors").is_file()


def test_readme_front_matter_makes_the_repository_a_space():
    text = README.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio"
    assert meta["app_file"] == "app.py"
    assert (README.parent / meta["app_file"]).is_file()
    assert meta["title"] and meta["emoji"]
    assert isinstance(meta["models"], list)
