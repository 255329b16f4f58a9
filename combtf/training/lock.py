"""One writer per run folder.

`flock` on `<run>/.lock`: the kernel drops the lock when the process ends, however it ends, so
a crashed or killed run never leaves the folder locked; a second `combtf train` on a folder in
use is refused with the holder's pid.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from combtf.errors import CombtfError


@contextmanager
def locked(run: Path) -> Iterator[None]:
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / ".lock", "a+")  # noqa: SIM115 - held for the whole block
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise CombtfError(f"{run}: another combtf train is using this run folder (pid {holder}); wait for it or stop it") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
