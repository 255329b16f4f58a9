"""tf.distribute on loopback: two `combtf train` workers on 127.0.0.1 ports with TF_CONFIG (CPU collectives)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from combtf.errors import CombtfError
from combtf.training import distribute
from tests.helpers import train_command

# 4 -> 8 px, 2 identities; the pair trains batch 2 per replica, the single process batch 4
SMALL = ("--images-per-level", "16", "--checkpoint-every", "2", "--identities", "ada,ben")


def _ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_pair(data: Path, outs: list[Path], scratch: Path, *extra: str) -> list[subprocess.Popen]:
    """Worker 0 (the chief) and worker 1, each with its own --out: the chief's is the run folder."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _ports(2)]}
    procs = []
    for index, out in enumerate(outs):
        env = {**os.environ, "TMPDIR": str(scratch),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        command = train_command(data, out, "--strategy", "multiworker", "--batch-size", "2", *SMALL, *extra)
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str]]:
    return [(p.wait(timeout), p.communicate()[1]) for p in procs]


def _weights(checkpoint: str) -> dict[str, np.ndarray]:
    """Every float tensor of a checkpoint but the optimizer's slots (weights, average, latent statistics)."""
    reader = tf.train.load_checkpoint(checkpoint)
    names = [n for n in reader.get_variable_to_shape_map() if "OPTIMIZER_SLOT" not in n and "optimizer/" not in n]
    tensors = {n: np.asarray(reader.get_tensor(n)) for n in names}
    return {n: t for n, t in tensors.items() if t.dtype.kind == "f"}


@pytest.fixture(scope="module")
def single_run(demo_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: one process, default strategy, batch 4 = the pair's global batch."""
    run = tmp_path_factory.mktemp("single") / "run"
    done = subprocess.run(train_command(demo_set / "train", run, "--strategy", "default", "--batch-size", "4", *SMALL),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return run


def _same_weights(run: Path, reference: Path) -> None:
    newest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    assert Path(newest).name == Path(tf.train.latest_checkpoint(str(reference / "checkpoints"))).name
    a, b = _weights(newest), _weights(str(reference / "checkpoints" / Path(newest).name))
    assert a.keys() == b.keys() and len(a) > 20
    worst = max(float(np.max(np.abs(a[n] - b[n]), initial=0.0)) for n in a)
    assert worst < 1e-4, worst


def test_two_workers_train_the_model_of_one_process_with_their_global_batch(demo_set: Path, single_run: Path, tmp_path: Path) -> None:
    chief_run, worker_out, scratch = tmp_path / "pair", tmp_path / "worker1", tmp_path / "tmp"
    scratch.mkdir()
    for code, err in _finish(_start_pair(demo_set / "train", [chief_run, worker_out], scratch)):
        assert code == 0, err[-2000:]

    # (a) both finished the whole schedule; only the chief wrote, and the worker's scratch is gone
    log = (chief_run / "train.log").read_text()
    assert "strategy multiworker" in log and "2 replica(s)" in log and "global batch 4 per identity" in log
    assert json.loads((chief_run / "summary.json").read_text())["finished"] is True
    assert not worker_out.exists()
    assert not list(scratch.glob("combtf-*"))
    # (b) the chief's checkpoint loads into a model that swaps
    from combtf.swap.from_run import load_trained

    trained = load_trained(chief_run)
    assert trained.swap(np.full((1, 8, 8, 3), 0.5, np.float32), "ada", "ben").shape == (1, 8, 8, 3)
    # (c) the same weights as one process over the same global batch
    _same_weights(chief_run, single_run)


def test_a_lost_worker_stops_the_chief_in_one_line_and_the_pair_resumes(demo_set: Path, tmp_path: Path) -> None:
    run, scratch = tmp_path / "pair", tmp_path / "tmp"
    scratch.mkdir()
    longer = ("--images-per-level", "400")  # 100 steps a phase: the kill lands mid-run
    chief, worker = _start_pair(demo_set / "train", [run, run], scratch, *longer)
    deadline = time.monotonic() + 180
    while not (run / "checkpoints" / "checkpoint").is_file() and time.monotonic() < deadline and chief.poll() is None:
        time.sleep(0.05)  # waiting for an event (the chief's first checkpoint), not for time to pass
    worker.send_signal(signal.SIGKILL)
    (code, err), _ = _finish([chief, worker])

    assert code == 2, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "worker 0 lost the other workers at step" in last and "--resume" in last, last
    assert "Traceback" not in err
    newest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    assert newest and Path(newest).name in last
    kept = int(re.search(r"ckpt-(\d+)$", newest).group(1))
    assert _weights(newest)  # loadable, tensor by tensor

    resumed = _start_pair(demo_set / "train", [run, run], scratch, *longer, "--resume", "--stop-after", "4")
    for code, err in _finish(resumed):
        assert code == 0, err[-2000:]
    assert f"resumed from {newest} at step {kept}" in (run / "train.log").read_text()
    assert json.loads((run / "summary.json").read_text())["steps"] == kept + 4
    assert not list(scratch.glob("combtf-*"))
    # and one process carries the run on alone (another replica count)
    alone = subprocess.run(train_command(demo_set / "train", run, "--strategy", "default", "--resume", "--stop-after", "2"),
                           capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["steps"], summary["replicas"]) == (kept + 6, 1)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}}', "needs"),
        ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}', "'ps' is not used"),
        ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
        ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 2}}', "index 2 is not in the cluster"),
    ],
)
def test_a_bad_tf_config_is_one_error_naming_it(monkeypatch: pytest.MonkeyPatch, value: str, fragment: str) -> None:
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(CombtfError, match="^TF_CONFIG: ") as error:
        distribute.make("multiworker")
    assert fragment in str(error.value)


def test_auto_is_the_default_strategy_on_one_device_and_multiworker_needs_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    cluster = distribute.make("auto")
    assert (cluster.name, cluster.replicas, cluster.is_chief) == ("default", 1, True)
    with pytest.raises(CombtfError, match="needs TF_CONFIG"):
        distribute.make("multiworker")
    with pytest.raises(CombtfError, match="strategy must be one of"):
        distribute.make("parameter-server")


def test_mirrored_over_two_devices_equals_one_device(demo_set: Path, single_run: Path, tmp_path: Path) -> None:
    """The mirrored path (several GPUs of one machine) on two logical CPUs: each local replica gets its slice."""
    script = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "mirrored = tf.distribute.MirroredStrategy\n"
        "tf.distribute.MirroredStrategy = lambda: mirrored(['/cpu:0', '/cpu:1'])  # stands in for two GPUs\n"
        "from combtf_cli.main import main\n"
        "sys.argv = sys.argv[1:]\n"
        "main()\n"
    )
    run = tmp_path / "mirrored"
    command = train_command(demo_set / "train", run, "--strategy", "mirrored", "--batch-size", "2", *SMALL)
    command[1:3] = ["-c", script, "combtf"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (run / "train.log").read_text()
    assert "strategy mirrored" in log and "2 replica(s)" in log
    _same_weights(run, single_run)
