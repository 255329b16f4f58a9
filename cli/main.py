"""The `combtf` command."""
from __future__ import annotations

import click

from cli.analysis_cmds import coverage, latent_plot
from cli.common import CombtfGroup, setup_logging
from cli.data_cmds import demo_data
from cli.faces_cmds import extract, import_dfl
from cli.swap_cmds import evaluate, export, swap
from cli.train_cmd import train


@click.group(cls=CombtfGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.version_option(package_name="combtf")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Multi-identity face-swap autoencoders: one shared encoder, one decoder per identity."""
    ctx.obj = {"debug": debug}
    setup_logging(debug)


for command in (demo_data, extract, import_dfl, train, swap, evaluate, export, latent_plot, coverage):
    main.add_command(command)
