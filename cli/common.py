"""What every command shares: one-line errors, logging, TensorFlow's start-up lines kept out of sight."""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import click

TENSORFLOW_START_UP = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on")


class CombtfGroup(click.Group):
    """Turns a CombtfError into `error: <message>` and exit code 2; --debug shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from combtf.errors import CombtfError

        try:
            return super().invoke(ctx)
        except CombtfError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if debug else "%(message)s"))
    logger = logging.getLogger("combtf")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    logging.getLogger("tensorflow").setLevel(logging.DEBUG if debug else logging.ERROR)  # restore chatter after a refused checkpoint
    logging.raiseExceptions = False  # a full disk must not turn every line for train.log into a traceback


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up lines off the terminal, wherever it is first imported (mtcnn imports it too).

    TF_CPP_MIN_LOG_LEVEL quiets its C++ logging, but two libraries of the wheel print
    TENSORFLOW_START_UP through absl before absl is set up, which no setting reaches: the import
    itself runs with the process's stderr pointed at /dev/null."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport("tensorflow"))


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds one module as usual, then runs its import with stderr silenced; steps aside after that."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, name: str, path: object = None, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilencedLoader(spec.loader)
        return spec


class _SilencedLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _stderr_to_devnull():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like: the real loader's
        return getattr(self._loader, name)


@contextlib.contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def split_names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def default_of(function: Callable, parameter: str) -> Any:
    """A library function's default, so a command's option shows the one definition."""
    return inspect.signature(function).parameters[parameter].default


def plate_options(command: Callable) -> Callable:
    """--frames, --strict, --colorspace and --ocio-config: how `extract` and `swap` read plate sequences."""
    options = [
        click.option("--frames", "frame_range", default=None, help="Sequences: frames FIRST-LAST only (e.g. 1001-1100)."),
        click.option("--strict", is_flag=True, help="Sequences: stop at a missing or unreadable frame instead of skipping it."),
        click.option("--colorspace", default=None, help="Plates' colour space, any space or role of the OCIO config "
                     "(default: EXR and float TIFF scene_linear, DPX with a log header compositing_log, others sRGB)."),
        click.option("--ocio-config", default="ocio://default", show_default=True, envvar="OCIO",
                     help="OCIO config file or built-in URI ($OCIO when set)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def plate_settings(frame_range: str | None, strict: bool, colorspace: str | None, ocio_config: str):  # noqa: ANN201 - PlateOptions
    from combtf.faces.sequence import PlateOptions
    from combtf.io.colour import Conversion, load_config
    from combtf.io.sequences import parse_range

    load_config(ocio_config)  # a bad config or space fails here, before any frame is read
    if colorspace:
        Conversion(ocio_config, colorspace)
    return PlateOptions(parse_range(frame_range) if frame_range else None, strict, colorspace, ocio_config)
