"""TensorFlow, loaded without its native start-up log.

TensorFlow's C++ side prints a dozen lines on stderr as it loads and first compiles (no
CUDA driver found, CPU instructions, XLA service started), which bury lifsim's own output
and its one-line error messages. lifsim sets ``TF_CPP_MIN_LOG_LEVEL`` to 3 unless it is
already set (set it to 0 to see that log), and holds back what the import itself prints:
it is shown only if the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile


def load():
    """The ``tensorflow`` module, imported quietly."""
    if sys.modules.get("tensorflow") is not None:  # loaded already (None: marked missing)
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow
