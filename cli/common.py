"""What every command shares: one-line errors, logging, progress bars."""
from __future__ import annotations

import logging
import sys
from typing import Any

import click


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


def split_names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None
