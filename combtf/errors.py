"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class CombtfError(Exception):
    """A problem with the user's input (a file, an option), not a bug in combtf."""
