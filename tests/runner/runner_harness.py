# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starts pyexecd_runner.py the way pyexecd-sandbox does and collects what it
writes: fd 0 = stdin memfd, fd 1/2 = pipes, fd 3 = message pipe, fd 4 = code
memfd, the protocol's environment, a fresh working directory."""

import fcntl
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time

PYTHON = '/usr/bin/python3'
HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.environ.get('PYEXECD_RUNNER') or os.path.normpath(
    os.path.join(HERE, '..', '..', 'src', 'runner', 'pyexecd_runner.py'))

MSG_TYPES = {'stream', 'display_data', 'execute_result', 'error',
             'update_display_data', 'clear_output'}


def _reserve_low_fds():
    # Keep fds 3 and 4 of this process occupied, so no pipe, memfd or the
    # subprocess module's error pipe gets those numbers: the child's 3 and 4
    # are made with dup2() in preexec_fn and must not clobber them.
    for fd in (3, 4):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY)
            if null != fd:
                os.dup2(null, fd, inheritable=False)
                os.close(null)


_reserve_low_fds()
# A crashing cell (SIGSEGV case) must not leave a core file anywhere.
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

_home = None


def _shared_home():
    """HOME/TMPDIR/MPLCONFIGDIR for all runs of this process: the sandbox has
    its own /tmp; here one private directory, kept for the process so
    matplotlib builds its font cache once."""
    global _home
    if _home is None:
        _home = tempfile.mkdtemp(prefix='pyexecd-runner-test-')
        import atexit
        atexit.register(shutil.rmtree, _home, True)
    return _home


def environment(cpus=1):
    home = _shared_home()
    env = {
        'PATH': '/usr/local/bin:/usr/bin:/bin',
        'LANG': 'C.UTF-8',
        'LC_ALL': 'C.UTF-8',
        'HOME': home,
        'TMPDIR': home,
        'MPLBACKEND': 'module://pyexecd_inline',
        'MPLCONFIGDIR': os.path.join(home, '.config', 'matplotlib'),
    }
    for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
        env[v] = str(cpus)
    return env


def _memfd(name, data):
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    return fd


class Result:
    def __init__(self, returncode, wire, raw_stdout, raw_stderr, wall):
        self.returncode = returncode
        self.wire = wire
        self.raw_stdout = raw_stdout
        self.raw_stderr = raw_stderr
        self.wall = wall
        self.messages = parse_wire(wire)

    @property
    def exit_code(self):
        return self.returncode if self.returncode >= 0 else None

    @property
    def signal(self):
        return -self.returncode if self.returncode < 0 else None

    def of_type(self, msg_type):
        return [m['content'] for m in self.messages if m['msg_type'] == msg_type]

    def outputs(self):
        """The stored outputs as a notebook would save them: adjacent stream
        items of one name merged and carriage returns applied, updates and
        clears applied (update/clear messages are not outputs)."""
        outs = []
        clear_pending = False
        for m in self.messages:
            t, c = m['msg_type'], m['content']
            if t == 'clear_output':
                if c['wait']:
                    clear_pending = True
                else:
                    outs = []
                continue
            if t == 'update_display_data':
                did = c['transient']['display_id']
                for o in outs:
                    if o.get('_display_id') == did:
                        o['data'] = c['data']
                        o['metadata'] = c['metadata']
                continue
            if clear_pending:
                outs = []
                clear_pending = False
            if t == 'stream':
                if outs and outs[-1]['output_type'] == 'stream' and outs[-1]['name'] == c['name']:
                    outs[-1]['text'] += c['text']
                else:
                    outs.append({'output_type': 'stream', 'name': c['name'], 'text': c['text']})
            elif t in ('display_data', 'execute_result'):
                o = {'output_type': t}
                if t == 'execute_result':
                    o['execution_count'] = c['execution_count']
                o['data'] = c['data']
                o['metadata'] = c['metadata']
                if 'transient' in c:
                    o['_display_id'] = c['transient']['display_id']
                outs.append(o)
            elif t == 'error':
                outs.append({'output_type': 'error', 'ename': c['ename'],
                             'evalue': c['evalue'], 'traceback': c['traceback']})
        for o in outs:
            o.pop('_display_id', None)
            if o['output_type'] == 'stream':
                o['text'] = apply_cr(o['text'])
        return outs

    def text(self, name):
        """Joined text of the stored stream items of that name, then the raw
        pipe's bytes (the daemon turns those into stream items too)."""
        t = ''.join(o['text'] for o in self.outputs()
                    if o['output_type'] == 'stream' and o['name'] == name)
        raw = self.raw_stdout if name == 'stdout' else self.raw_stderr
        return t + raw.decode('utf-8', 'replace')

    def sequence(self):
        seq = []
        for o in self.outputs():
            if o['output_type'] == 'stream':
                seq.append('stream:' + o['name'])
            else:
                seq.append(o['output_type'])
        return seq

    def errors(self):
        return self.of_type('error')

    def status(self):
        if self.returncode == 0 and not self.errors():
            return 'succeeded'
        return 'failed'


def apply_cr(text):
    """A carriage return moves to the start of the line and the following
    characters overwrite it, as in a terminal and in Jupyter's rendering."""
    lines = text.split('\n')
    out = []
    for line in lines:
        if '\r' not in line:
            out.append(line)
            continue
        buf = []
        for part in line.split('\r'):
            buf[:len(part)] = list(part)
        out.append(''.join(buf))
    return '\n'.join(out)


def _check_mime_bundle(data):
    assert isinstance(data, dict), data
    for k, v in data.items():
        assert isinstance(k, str) and k, k
        if not k.endswith('json'):
            assert isinstance(v, str), (k, v)


def validate(msg):
    """Every message must be shaped as the protocol says."""
    assert set(msg) == {'msg_type', 'content'}, msg
    t, c = msg['msg_type'], msg['content']
    assert t in MSG_TYPES, t
    assert isinstance(c, dict), c
    if t == 'stream':
        assert set(c) == {'name', 'text'}, c
        assert c['name'] in ('stdout', 'stderr'), c
        assert isinstance(c['text'], str) and c['text'], c
    elif t in ('display_data', 'update_display_data'):
        assert set(c) - {'transient'} == {'data', 'metadata'}, c
        _check_mime_bundle(c['data'])
        assert isinstance(c['metadata'], dict), c
        if t == 'update_display_data' or 'transient' in c:
            did = c['transient']['display_id']
            assert isinstance(did, str) and did and '\0' not in did, c
    elif t == 'execute_result':
        assert set(c) == {'execution_count', 'data', 'metadata'}, c
        n = c['execution_count']
        assert n is None or (isinstance(n, int) and n >= 0), c
        _check_mime_bundle(c['data'])
        assert 'text/plain' in c['data'], c
        assert isinstance(c['metadata'], dict), c
    elif t == 'error':
        assert set(c) == {'ename', 'evalue', 'traceback'}, c
        assert isinstance(c['ename'], str) and isinstance(c['evalue'], str), c
        assert isinstance(c['traceback'], list) and all(isinstance(s, str) for s in c['traceback']), c
    elif t == 'clear_output':
        assert set(c) == {'wait'} and isinstance(c['wait'], bool), c


def _pairs(pairs):
    # The daemon parses with JSON_REJECT_DUPLICATES; jansson refuses U+0000 in keys.
    keys = [k for k, _ in pairs]
    assert len(set(keys)) == len(keys), 'duplicate key in %r' % keys
    assert all('\0' not in k for k in keys), keys
    return dict(pairs)


def _int(text):
    v = int(text)
    assert -2**63 <= v < 2**63, 'integer beyond 64 bits: %s' % text  # jansson's json_int_t
    return v


def _depth_ok(line, limit=256):
    # runner-message.c's json_text_depth_ok().
    depth = 0
    in_string = False
    i = 0
    while i < len(line):
        c = line[i]
        if in_string:
            if c == '\\':
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in '[{':
            depth += 1
            if depth > limit:
                return False
        elif c in ']}':
            depth = max(0, depth - 1)
        i += 1
    return True


def parse_wire(wire):
    """fd 3's bytes: valid UTF-8, one JSON object per line, each line ended,
    each line acceptable to the daemon's parser (src/shared/runner-message.c)."""
    text = wire.decode('utf-8')  # strict: the wire must be valid UTF-8
    assert text == '' or text.endswith('\n'), text[-200:]
    messages = []
    for line in text.split('\n')[:-1]:
        assert _depth_ok(line), 'nested deeper than 256: %s' % line[:200]
        msg = json.loads(line, object_pairs_hook=_pairs, parse_int=_int,
                         parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))
        validate(msg)
        messages.append(msg)
    return messages


def _reader(fd, sink):
    chunks = []
    while True:
        try:
            b = os.read(fd, 1 << 16)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    sink.append(b''.join(chunks))


def run_cell(code, stdin=None, execution_count=None, timeout=120, env=None, runner=None,
             cwd=None, argv=None):
    """Run one cell (str, or bytes for the exact code bytes) and return a
    Result. argv replaces the runner's command line (for measurements)."""
    code_bytes = code if isinstance(code, bytes) else code.encode('utf-8')
    stdin_bytes = b'' if stdin is None else (stdin if isinstance(stdin, bytes) else stdin.encode('utf-8'))
    if argv is None:
        argv = [PYTHON, '-I', '-B', runner or RUNNER]
        if execution_count is not None:
            argv += ['--execution-count', str(execution_count)]
    workdir = cwd or tempfile.mkdtemp(prefix='cell-', dir=_shared_home())
    stdin_fd = _memfd('stdin', stdin_bytes)
    code_fd = _memfd('code', code_bytes)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    r3, w3 = os.pipe()

    def child_fds():
        os.dup2(w3, 3)
        os.dup2(code_fd, 4)

    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=stdin_fd, stdout=w1, stderr=w2, pass_fds=(3, 4),
                                preexec_fn=child_fds, cwd=workdir, env=env or environment())
    finally:
        for fd in (w1, w2, w3, stdin_fd, code_fd):
            os.close(fd)
    sinks = ([], [], [])
    threads = [threading.Thread(target=_reader, args=(fd, sink), daemon=True)
               for fd, sink in zip((r1, r2, r3), sinks)]
    for t in threads:
        t.start()
    # A watchdog instead of wait(timeout): Popen.wait(timeout) polls with
    # sleeps of up to 50 ms, which would swamp the start-up measurements.
    expired = []
    watchdog = threading.Timer(timeout, lambda: (expired.append(True), proc.kill()))
    watchdog.start()
    try:
        proc.wait()
        # Forked children of the cell may still hold the pipes for a while.
        for t in threads:
            t.join(max(1.0, timeout - (time.monotonic() - start)))
            if t.is_alive():
                raise TimeoutError('pipes still open after the runner exited')
        if expired:
            raise TimeoutError('the runner did not exit within %s s' % timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        watchdog.cancel()
        if cwd is None:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.monotonic() - start
    return Result(proc.returncode, sinks[2][0], sinks[0][0], sinks[1][0], wall)
