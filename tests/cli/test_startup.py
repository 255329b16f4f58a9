"""What a user sees when a command starts: no TensorFlow loaded for --help, none of its start-up lines."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from combtf_cli.common import TENSORFLOW_START_UP


def combtf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # oneDNN's line is printed only where oneDNN is on: CPUs without AVX512 turn it off unless asked
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-c", "from combtf_cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_the_commands_load_without_tensorflow() -> None:
    code = "import sys, combtf_cli.main; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["False", "False"]  # --help and the choice lists need no TensorFlow


def test_tensorflows_start_up_lines_stay_hidden_unless_debug(tmp_path: Path) -> None:
    quiet = combtf("export", "--model", "nowhere", cwd=tmp_path)  # loads TensorFlow, then fails on the missing run
    assert quiet.returncode == 2 and quiet.stderr.strip().splitlines() == ["error: nowhere: not a combtf run folder (no config.yaml)"]
    loud = combtf("--debug", "latent-plot", "--model", "nowhere", cwd=tmp_path)
    assert loud.returncode != 0 and all(line in loud.stderr for line in TENSORFLOW_START_UP), loud.stderr[-2000:]
