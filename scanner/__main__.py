"""``python -m secretaudit`` runs the secretaudit CLI."""

import os
import sys

# ``-m`` puts the working directory first on sys.path: a scanned tree holding
# ``copy.py`` or ``json.py`` would shadow the standard library.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from secretaudit.launch import run  # noqa: E402

if __name__ == "__main__":
    run()
