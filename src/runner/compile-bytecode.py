#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Install step: byte-compile the runner's modules where they were installed.

The runner runs with -B (it never writes bytecode, and the sandbox cannot),
so without these files every execution would compile pyexecd_core.py and
pyexecd_display.py from source, about 6 ms. Hash-checked .pyc files stay
correct whatever happens to the files' times.

usage: compile-bytecode.py DIR   (DIR as installed; $DESTDIR is prepended)
"""

import compileall
import os
import py_compile
import sys


def main():
    target = sys.argv[1]
    destdir = os.environ.get('DESTDIR', '')
    if destdir:
        target = os.path.join(os.path.abspath(destdir), os.path.relpath(target, os.sep))
    ok = compileall.compile_dir(target, maxlevels=0, quiet=1,
                                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
