"""A plain (non-editable) install: the package list matches the source tree, and nothing claims `cli`."""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_plain_install_claims_no_generic_top_level_name(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    source = tmp_path / "source"  # a copy: the build writes build/ and *.egg-info beside the sources
    for name in ("combtf", "cli"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    # the wheel is built by this environment's setuptools, then installed as pip installs any wheel
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "wheels"), str(source)],
                   check=True, capture_output=True, text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    wheel = next((tmp_path / "wheels").glob("combtf-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    installed = {p.name for p in site.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert installed == {"combtf", "combtf_cli"}
    packages = {p.parent.relative_to(REPO / "combtf") for p in (REPO / "combtf").rglob("__init__.py")}
    assert {p.parent.relative_to(site / "combtf") for p in (site / "combtf").rglob("__init__.py")} == packages
    assert {p.name for p in (site / "combtf_cli").glob("*.py")} == {p.name for p in (REPO / "cli").glob("*.py")}
    found = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('cli'), u.find_spec('combtf_cli') is not None)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()  # outside the repository
    assert found == ["None", "True"]
    script = (target / "bin" / "combtf").read_text()
    assert "from combtf_cli.main import main" in script
