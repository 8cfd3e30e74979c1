# SPDX-License-Identifier: LGPL-2.1-or-later
"""Entry point of the pyexecd runner; the work is in pyexecd_core.py.

    /usr/bin/python3 -I -B pyexecd_runner.py [--execution-count N]

A script is compiled from source on every start (about 6 ms for the whole
runner in a fresh interpreter), while an imported module loads its bytecode
from __pycache__, written when the runner is installed. So this file stays
tiny and imports the rest from its own directory.
"""

import sys


def _core():
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import pyexecd_core
    finally:
        sys.path.remove(here)
    return pyexecd_core


sys.exit(_core().main(sys.argv[1:]))
