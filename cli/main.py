"""The `combtf` command."""
from __future__ import annotations

import click

from combtf_cli.analysis_cmds import coverage, latent_plot
from combtf_cli.common import CombtfGroup, quiet_tensorflow, setup_logging
from combtf_cli.data_cmds import demo_data
from combtf_cli.faces_cmds import extract, import_dfl
from combtf_cli.swap_cmds import evaluate, export, swap
from combtf_cli.train_cmd import train


@click.group(cls=CombtfGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks, debug logging and TensorFlow's own start-up lines.")
@click.version_option(package_name="combtf")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Multi-identity face-swap autoencoders: one shared encoder, one decoder per identity."""
    ctx.obj = {"debug": debug}
    setup_logging(debug)
    if not debug:
        quiet_tensorflow()


for command in (demo_data, extract, import_dfl, train, swap, evaluate, export, latent_plot, coverage):
    main.add_command(command)
