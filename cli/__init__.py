"""Thin click commands over the combtf library, installed as `combtf_cli` (the folder keeps the design card's name)."""
