"""``python -m lifsim``: the same as the ``lifsim`` command."""

from .cli import entry

entry()
