"""The README's install step resolves from PyPI alone.

`pip install --dry-run` runs the README's own install command (read from the
README, so the two cannot drift apart) in isolated mode: no pip config file,
no `/opt/wheels` find-links, no local index, only https://pypi.org. It
resolves every requirement and downloads the small wheels, but installs
nothing, so it does not fetch PyPI torch's CUDA libraries (several GB on
Linux). Slow (about a minute) and needs network; it skips, saying so,
without it.
"""
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPI = "pypi.org"

pytestmark = pytest.mark.slow


def readme_install_args() -> List[str]:
    """The arguments of `pip install` in the README's first command."""
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has no ```bash block"
    first = block.group(1).splitlines()[0]
    install = next(part for part in first.split("&&") if "pip install" in part)
    words = shlex.split(install)
    return words[words.index("install") + 1 :]


def test_readme_install_args():
    args = readme_install_args()
    assert args[-1] == ".[dev]" and "-e" in args
    assert args[args.index("-c") + 1] == "constraints.txt"
    # A local-version pin (torch==X+cpu) exists on no index but PyTorch's own.
    assert pinned_versions()["torch"] and all("+" not in v for v in pinned_versions().values())


def pinned_versions() -> Dict[str, str]:
    """NAME==VERSION lines of constraints.txt."""
    lines = (ROOT / "constraints.txt").read_text(encoding="utf8").splitlines()
    return dict(line.strip().split("==") for line in lines if "==" in line and not line.startswith("#"))


def _pypi_reachable() -> bool:
    try:
        socket.create_connection((PYPI, 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _pypi_reachable(), reason=f"no network: {PYPI} is not reachable")
def test_readme_install_resolves_from_pypi_alone(tmp_path):
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed",
           "--index-url", "https://pypi.org/simple", "--report", str(report), *readme_install_args()]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installs = {item["metadata"]["name"].lower(): item for item in json.loads(report.read_text())["install"]}
    for name, version in pinned_versions().items():
        assert installs[name]["metadata"]["version"] == version
    assert "spacy-bioner" in installs
    for name, item in installs.items():
        url = item["download_info"]["url"]
        if name != "spacy-bioner":
            assert url.startswith("https://files.pythonhosted.org/"), f"{name} from {url}"
