"""Which tf.distribute strategy a run trains under, who the chief is, and what the workers agree on.

TensorFlow's own engine does the work: `MirroredStrategy` over the GPUs of one machine,
`MultiWorkerMirroredStrategy` over machines named in the standard `TF_CONFIG`.  The batch
size of a config is per replica; every step's global batch is drawn as one batch (see
`data.pipeline`) and each replica trains on its slice, so a run over R replicas of batch B
sees exactly the batches of a one-device run of batch R x B.  Only the chief writes into
the run folder; the other workers write their share of each checkpoint to scratch, as
TensorFlow requires, and delete it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from combtf.config import STRATEGIES
from combtf.errors import CombtfError

# what a lost or stopped peer looks like to a collective (heartbeat timeout, aborted ring, timeout)
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError, tf.errors.CancelledError)


@dataclass
class Cluster:
    strategy: tf.distribute.Strategy
    name: str
    reason: str
    task: str = "worker"
    index: int = 0
    workers: int = 1
    has_chief_task: bool = False  # TF_CONFIG may name a "chief" task; else worker 0 is the chief

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def is_chief(self) -> bool:
        return self.task == "chief" or (self.task == "worker" and self.index == 0 and not self.has_chief_task)

    @property
    def who(self) -> str:
        return f"{self.task} {self.index}" if self.workers > 1 else "this process"

    def scratch(self, run: Path) -> Path:
        """Where a non-chief writes its share of each checkpoint: one folder per (run, task), emptied
        at the start (what a killed worker left) and removed at the end."""
        folder = Path(tempfile.gettempdir()) / f"combtf-{self.task}{self.index}-{fingerprint(str(run.resolve()))}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        return folder


def read_tf_config() -> dict | None:
    """The cluster from `TF_CONFIG`, checked: it comes from the user's environment."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CombtfError(f"TF_CONFIG: not valid JSON ({exc.msg} at character {exc.pos})") from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    task = spec.get("task") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise CombtfError('TF_CONFIG: needs {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}')
    for kind, addresses in cluster.items():
        if kind not in ("chief", "worker"):
            raise CombtfError(f"TF_CONFIG: task type '{kind}' is not used by combtf (only chief and worker)")
        if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise CombtfError(f"TF_CONFIG: cluster '{kind}' must be a list of host:port strings")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster or isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise CombtfError(f"TF_CONFIG: task {kind!r} index {index!r} is not in the cluster")
    return spec


def make(requested: str) -> Cluster:
    """Build the strategy.  Call before any other TensorFlow work: collectives are set up once per process."""
    if requested not in STRATEGIES:
        raise CombtfError(f"strategy must be one of {', '.join(STRATEGIES)}, got '{requested}'")
    spec = read_tf_config()
    workers = sum(len(v) for v in spec["cluster"].values()) if spec else 1
    gpus = len(tf.config.list_physical_devices("GPU"))
    name = requested
    if requested == "auto":
        name = "multiworker" if workers > 1 else "mirrored" if gpus > 1 else "default"
    if name == "multiworker":
        if spec is None:
            raise CombtfError("--strategy multiworker needs TF_CONFIG naming the cluster and this task (docs/distributed-training.md)")
        implementation = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(implementation=implementation.AUTO if gpus else implementation.RING)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        task = spec["task"]
        return Cluster(strategy, name, f"TF_CONFIG names {workers} workers, {gpus} GPU(s) here", task["type"],
                       task.get("index", 0), workers, "chief" in spec["cluster"])
    if name == "mirrored":
        return Cluster(tf.distribute.MirroredStrategy(), name, f"{gpus} GPU(s) visible")
    return Cluster(tf.distribute.get_strategy(), "default", "one device" + (" (TF_CONFIG ignored)" if spec else ""))


def check_agreement(cluster: Cluster, what: dict[str, int]) -> None:
    """Every worker must start from the same step of the same config, or the replicas drift apart silently."""
    if cluster.workers == 1:
        return
    values = tf.constant([list(what.values())], tf.int64)
    per_replica = cluster.strategy.run(lambda: tf.identity(values))
    seen = cluster.strategy.gather(per_replica, axis=0).numpy()
    for column, name in enumerate(what):
        found = sorted(set(int(v) for v in seen[:, column]))
        if len(found) > 1:
            raise CombtfError(f"the workers disagree on the run's {name} ({', '.join(map(str, found))}): start every worker "
                              "with the same options, and on resume let each see the run folder's newest checkpoint")


def fingerprint(values: dict) -> int:
    return zlib.crc32(json.dumps(values, sort_keys=True, default=str).encode())


def remove_scratch(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
