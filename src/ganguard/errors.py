"""The one exception for bad input: the CLI prints it as one line and exits with code 2."""


class GanguardError(Exception):
    """A user-facing error: bad data, bad config, bad run directory. Never a bug."""
