"""``python -m lifsim``: the same as the ``lifsim`` command."""

import sys

from .cli import main

sys.exit(main())
