# SPDX-License-Identifier: LGPL-2.1-or-later
"""Start-up cost of the runner: `print(1)` through pyexecd_runner.py against a
bare `python3 -I -c 'print(1)'`, all spawned the same way (fds 0-4, the
protocol's environment, a fresh working directory); median and quartiles of
N runs each (default 20). The runner is measured as installed (a copy of its
directory byte-compiled as `meson install` does) and from the source tree
(no bytecode). Informational: timing never decides pass/fail."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runner_harness as h  # noqa: E402

RUNNER_FILES = ('pyexecd_runner.py', 'pyexecd_core.py', 'pyexecd_display.py')


def install_copy(dest):
    src = os.path.dirname(h.RUNNER)
    for f in RUNNER_FILES:
        shutil.copy2(os.path.join(src, f), dest)
    subprocess.run([h.PYTHON, os.path.join(src, 'compile-bytecode.py'), dest], check=True)
    return os.path.join(dest, 'pyexecd_runner.py')


def timed(fn, n):
    fn()  # warm the page cache
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tmp = tempfile.mkdtemp(prefix='pyexecd-runner-bench-')
    try:
        installed = install_copy(tmp)

        def bare():
            r = h.run_cell(b'', argv=[h.PYTHON, '-I', '-c', 'print(1)'])
            assert r.returncode == 0 and r.raw_stdout == b'1\n'

        def runner(path):
            def run():
                r = h.run_cell('print(1)', runner=path)
                assert r.returncode == 0 and r.text('stdout') == '1\n', r.messages
            return run

        medians = {}
        for name, fn in (('bare python3 -I -c print(1)', bare),
                         ('runner, installed (bytecode)', runner(installed)),
                         ('runner, source tree', runner(h.RUNNER))):
            t = timed(fn, n)
            q = statistics.quantiles(t, n=4)
            medians[name] = statistics.median(t)
            print('%-30s median %6.2f ms   (q1 %6.2f, q3 %6.2f, n=%d)'
                  % (name, medians[name], q[0], q[2], n))
        base = medians['bare python3 -I -c print(1)']
        for name in ('runner, installed (bytecode)', 'runner, source tree'):
            print('%-30s %+6.2f ms over bare' % (name, medians[name] - base))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
