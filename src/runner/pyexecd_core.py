# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run one notebook cell inside the pyexecd sandbox (the runner's core).

pyexecd-sandbox starts

    /usr/bin/python3 -I -B pyexecd_runner.py [--execution-count N]

with fd 0 = stdin (memfd), fd 1/2 = raw pipes, fd 3 = message pipe (one JSON
object per line, Jupyter IOPub shaped), fd 4 = the code (memfd); that small
script imports this module and calls main().

Start-up cost matters (a cell that only prints must cost little more than the
interpreter's own start): this module imports nothing the interpreter has not
loaded already except a few built-in modules, and rare paths import lazily.
The display classes, the IPython stand-in, the matplotlib backend and the
pretty printer live in pyexecd_display.py, loaded only when a cell needs them.
"""

import _ast
import _thread
import atexit
import binascii
import builtins
import codecs
import io
import os
import sys

try:
    from _json import encode_basestring as _json_str
except ImportError:  # pragma: no cover - every CPython build has _json
    def _json_str(s):
        out = ['"']
        for ch in s:
            if ch == '"' or ch == '\\':
                out.append('\\' + ch)
            elif ch < ' ':
                out.append('\\u%04x' % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return ''.join(out)

WIRE_FD = 3
CODE_FD = 4
CELL_FILENAME = '<cell>'
BACKEND_NAME = 'pyexecd_inline'
BACKEND = 'module://' + BACKEND_NAME
_RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
# co_filename of the runner's own frames (the entry script is added by main()).
_OWN_FILES = {__file__}
# Name the value of the cell's last expression is stored under while the cell
# runs (one code object keeps top-level await in a single event loop).
_RESULT_NAME = '_pyexecd_result_'
_CO_COROUTINE = 0x80

_cell_source = ''
_cell_lines = []


# --- The wire (fd 3) -------------------------------------------------------

def _replace_surrogates(exc):
    # Lone surrogates (from surrogateescape decoding or "\ud800" literals)
    # cannot be encoded as UTF-8: pair up what pairs, U+FFFD for the rest.
    # (The UTF-8 encoder takes only ASCII text or bytes from a handler.)
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start:exc.end]
        fixed = bad.encode('utf-16-le', 'surrogatepass').decode('utf-16-le', 'replace')
        return fixed.encode('utf-8'), exc.end
    raise exc


codecs.register_error('pyexecd.surrogates', _replace_surrogates)


def _utf8(text):
    return text.encode('utf-8', 'pyexecd.surrogates')


class _Wire:
    """Writes whole messages to fd 3, one os.writev() per message.

    A lock keeps threads from interleaving; a message sent from a signal
    handler (or a __del__) while this thread is in the middle of a message is
    queued and written after it. The lock is renewed in fork()ed children.
    """

    def __init__(self, fd):
        self.fd = fd
        self.lock = _thread.RLock()
        self.queue = None

    def after_fork(self):
        self.lock = _thread.RLock()
        self.queue = None

    def send(self, chunks):
        with self.lock:
            if self.queue is not None:
                self.queue.append(chunks)
                return
            self.queue = []
            try:
                self._write(chunks)
                while self.queue:
                    self._write(self.queue.pop(0))
            finally:
                self.queue = None

    def _write(self, chunks):
        chunks = [c for c in chunks if len(c)]
        while chunks:
            try:
                n = os.writev(self.fd, chunks)
            except BrokenPipeError:
                self._lost()
            while n:
                first = len(chunks[0])
                if n >= first:
                    n -= first
                    del chunks[0]
                else:
                    chunks[0] = memoryview(chunks[0])[n:]
                    n = 0

    def _lost(self):
        # Nobody reads the messages any more (the daemon went away): die the
        # way a process writing to a closed pipe dies, instead of spinning.
        import _signal
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        os.kill(os.getpid(), _signal.SIGPIPE)
        os._exit(141)


_wire = _Wire(WIRE_FD)


class _RawJSON(str):
    """Text that is already JSON and goes into a message verbatim."""


def _coerce(o):
    """Turn an object json cannot encode into one it can (ipykernel's json_clean)."""
    try:
        if isinstance(o, str):
            return str.__str__(o)
        if isinstance(o, (bytes, bytearray, memoryview)):
            return binascii.b2a_base64(o, newline=False).decode('ascii')
        if isinstance(o, dict):
            return dict(o)
        if isinstance(o, (list, tuple, set, frozenset)):
            return list(o)
        tolist = getattr(o, 'tolist', None)  # numpy scalars and arrays
        if callable(tolist):
            v = tolist()
            if type(v) in (str, int, float, bool, list, dict) or v is None:
                return v
        if hasattr(o, '__index__'):
            return int(o.__index__())
        if hasattr(o, '__float__'):
            return float(o)
        if hasattr(o, 'keys') and hasattr(o, '__getitem__'):
            return {k: o[k] for k in o.keys()}
        return str(o)
    except Exception:
        return '<unserializable %s>' % type(o).__name__


def _dump(o, out, depth, active):
    """Compact JSON of o into out, never failing: NaN/inf become null, cycles
    and nesting beyond 100 levels become null, foreign types are coerced."""
    t = type(o)
    if t is str:
        out.append(_json_str(o))
    elif t is _RawJSON:
        out.append(o)
    elif o is None:
        out.append('null')
    elif o is True:
        out.append('true')
    elif o is False:
        out.append('false')
    elif t is int:
        # jansson refuses integers beyond 64 bits (the whole line with them).
        if -0x8000000000000000 <= o <= 0x7fffffffffffffff:
            out.append(int.__repr__(o))
        else:
            out.append(_json_str(int.__repr__(o)))
    elif t is float:
        out.append(float.__repr__(o) if o - o == 0.0 else 'null')
    elif t is dict or t is list or t is tuple:
        if depth > 100 or id(o) in active:
            out.append('null')
            return
        active.add(id(o))
        if t is dict:
            out.append('{')
            first = True
            seen = set()
            for k, v in o.items():
                if type(k) is not str:
                    if k is None or k is True or k is False:
                        k = 'null' if k is None else ('true' if k else 'false')
                    elif isinstance(k, (int, float)):
                        k = repr(k)
                    else:
                        try:
                            k = str(k)
                        except Exception:
                            k = '<%s>' % type(k).__name__
                # The daemon refuses a line with U+0000 in a key or with a
                # key twice (1 and "1" both become "1").
                if '\0' in k:
                    k = k.replace('\0', '\ufffd')
                if k in seen:
                    continue
                seen.add(k)
                if not first:
                    out.append(',')
                first = False
                out.append(_json_str(k))
                out.append(':')
                _dump(v, out, depth + 1, active)
            out.append('}')
        else:
            out.append('[')
            first = True
            for v in o:
                if not first:
                    out.append(',')
                first = False
                _dump(v, out, depth + 1, active)
            out.append(']')
        active.discard(id(o))
    else:
        c = _coerce(o)
        if c is not None and type(c) not in _JSON_TYPES:
            c = '<unserializable %s>' % t.__name__
        _dump(c, out, depth, active)


_JSON_TYPES = (str, int, float, bool, dict, list, tuple)


_suspect_json = None


def _stack_depth():
    f = sys._getframe(1)
    n = 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


def _json_value(v):
    """A value of a *json mime type: encoded by the json module (C speed for
    big data) when the result is sure to pass the daemon's checks, else left
    to _dump's forgiving encoder."""
    global _suspect_json
    import json
    if isinstance(v, (str, bytes, bytearray)):
        try:
            v = json.loads(v)
        except ValueError:
            return v if isinstance(v, str) else bytes(v).decode('utf-8', 'replace')
    limit = sys.getrecursionlimit()
    try:
        # Nesting deeper than ~100 levels raises here (the daemon refuses
        # lines nested beyond 256); sort_keys raises for dicts mixing key
        # types, the only way to get a key twice (1 and "1").
        sys.setrecursionlimit(_stack_depth() + 100)
        text = json.dumps(v, ensure_ascii=False, allow_nan=False, sort_keys=True,
                          separators=(',', ':'))
    except Exception:
        return v
    finally:
        sys.setrecursionlimit(limit)
    if _suspect_json is None:
        import re
        # U+0000 (refused in keys) or a number beyond 64 bits (refused by
        # jansson); digits in strings only cost the slower path.
        _suspect_json = re.compile(r'\\u0000|[0-9]{19}')
    if _suspect_json.search(text):
        return v
    return _RawJSON(text)


def send_message(msg_type, content):
    """Write one IOPub-shaped message {"msg_type": ..., "content": ...} to fd 3."""
    out = ['{"msg_type":', _json_str(msg_type), ',"content":']
    _dump(content, out, 0, set())
    out.append('}\n')
    _wire.send((_utf8(''.join(out)),))


_STREAM_HEAD = {
    'stdout': b'{"msg_type":"stream","content":{"name":"stdout","text":',
    'stderr': b'{"msg_type":"stream","content":{"name":"stderr","text":',
}
_STREAM_TAIL = b'}}\n'


def _send_stream(name, text):
    # The hot path: no dict, no generic encoder, no concatenation of the text.
    _wire.send((_STREAM_HEAD[name], _utf8(_json_str(text)), _STREAM_TAIL))


# --- sys.stdout and sys.stderr ----------------------------------------------

class OutStream(io.TextIOBase):
    """sys.stdout/sys.stderr: every write() is one stream message on fd 3 at
    once (the code may be killed at any moment). fileno() is the raw fd, so C
    code and subprocesses write to the raw pipe, which the daemon reads."""

    encoding = 'utf-8'
    errors = 'replace'
    newlines = None
    line_buffering = True
    write_through = True
    mode = 'w'

    def __init__(self, stream, fd):
        self.name = '<%s>' % stream
        self._stream = stream
        self._fd = fd
        self._decoder = None   # for bytes written to .buffer, created on first use
        self._pending = False  # the decoder holds an incomplete UTF-8 sequence
        self.buffer = OutBuffer(self)

    def __repr__(self):
        return '<pyexecd %s stream>' % self._stream

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        if self.closed:
            raise ValueError('I/O operation on closed file.')
        n = len(s)
        if self._pending:
            with _wire.lock:
                # Bytes of an unfinished character followed by text are invalid
                # UTF-8, as in a byte stream: U+FFFD, then the text.
                s = self._decoder.decode(b'', True) + s
                self._pending = False
                _send_stream(self._stream, s)
        elif n:
            _send_stream(self._stream, s)
        return n

    def _write_bytes(self, b):
        if isinstance(b, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        if self.closed:
            raise ValueError('I/O operation on closed file.')
        b = memoryview(b).cast('B')
        with _wire.lock:
            if self._decoder is None:
                self._decoder = codecs.getincrementaldecoder('utf-8')('replace')
            text = self._decoder.decode(b)
            self._pending = bool(self._decoder.getstate()[0])
            if text:
                _send_stream(self._stream, text)
        return b.nbytes

    def flush_pending(self):
        """At exit: an incomplete character left in the decoder becomes U+FFFD."""
        if self._pending:
            with _wire.lock:
                text = self._decoder.decode(b'', True)
                self._pending = False
                if text:
                    _send_stream(self._stream, text)

    def flush(self):
        pass

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def reconfigure(self, **kwargs):
        # Code that asks for encoding='utf-8' or line buffering gets it already.
        pass

    def detach(self):
        return self.buffer


class OutBuffer(io.BufferedIOBase):
    """sys.stdout.buffer: bytes are decoded incrementally (a character split
    across two writes survives; invalid bytes become U+FFFD) and sent."""

    mode = 'wb'

    def __init__(self, text):
        self._text = text
        self.name = text.name

    def __repr__(self):
        return '<pyexecd %s buffer>' % self._text._stream

    def write(self, b):
        return self._text._write_bytes(b)

    def flush(self):
        pass

    def fileno(self):
        return self._text._fd

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def detach(self):
        raise io.UnsupportedOperation('detach')


_stdout = OutStream('stdout', 1)
_stderr = OutStream('stderr', 2)


def _write_stderr(text):
    # Runner-originated text (sys.exit message, formatter failures) goes
    # through our stream object even if the code replaced or closed sys.stderr.
    if text:
        _send_stream('stderr', text)


# --- Display --------------------------------------------------------------

# IPython's formatters, in IPython's order (text/plain comes first).
_REPR_METHODS = (
    ('text/html', '_repr_html_'),
    ('text/markdown', '_repr_markdown_'),
    ('image/svg+xml', '_repr_svg_'),
    ('image/png', '_repr_png_'),
    ('application/pdf', '_repr_pdf_'),
    ('image/jpeg', '_repr_jpeg_'),
    ('text/latex', '_repr_latex_'),
    ('application/json', '_repr_json_'),
    ('application/javascript', '_repr_javascript_'),
)

_display_mod = None


def import_sibling(name):
    """Import a module of the runner's directory (through the normal import
    system, so its bytecode cache written at installation is used)."""
    mod = sys.modules.get(name)
    if mod is None:
        sys.path.insert(0, _RUNNER_DIR)
        try:
            mod = __import__(name)
        finally:
            try:
                sys.path.remove(_RUNNER_DIR)
            except ValueError:
                pass
    return mod


def _display_module():
    """pyexecd_display.py, the rarely needed half of the runner."""
    global _display_mod
    if _display_mod is None:
        _display_mod = import_sibling('pyexecd_display')
        _OWN_FILES.add(_display_mod.__file__)
    return _display_mod


def _formatter_method(obj, name):
    """obj.name if it is a callable repr method, as IPython decides: never on
    classes, and not on proxies that claim to have every attribute."""
    if isinstance(obj, type):
        return None
    try:
        method = getattr(obj, name, None)
        if method is None or not callable(method):
            return None
        if callable(getattr(obj, '_ipython_canary_method_should_not_exist_', None)):
            return None
    except Exception:
        return None
    return method


def _report_failure(message, exc):
    """A failure the cell survives (a repr method raising): the message and
    the traceback on stderr, as IPython prints formatter errors."""
    try:
        lines = _format_exception(exc)
        _write_stderr('%s\n%s\n' % (message, '\n'.join(lines)))
    except Exception:
        pass


def _report_repr_failure(obj, what, exc):
    _report_failure('%s of %s object failed; showing what remains:'
                    % (what, type(obj).__name__), exc)


def _call_repr(obj, name, method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except NotImplementedError:
        return None
    except Exception as e:
        _report_repr_failure(obj, name + '()', e)
        return None


def _normalize_value(mime, v):
    """A mime value as the wire wants it, or None when it is unusable."""
    if mime.endswith('json'):
        return _json_value(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        if mime.startswith('text/') or mime.endswith('+xml') or mime.endswith('javascript'):
            return bytes(v).decode('utf-8', 'replace')
        return binascii.b2a_base64(v, newline=False).decode('ascii')
    return None


def _normalize_bundle(bundle):
    data = {}
    if isinstance(bundle, dict):
        for mime, v in bundle.items():
            if isinstance(mime, str) and mime and '\0' not in mime:
                v = _normalize_value(mime, v)
                if v is not None:
                    data[mime] = v
    return data


def _plain_text(obj):
    cls = type(obj)
    try:
        for c in cls.__mro__:
            d = c.__dict__
            if '_repr_pretty_' in d and callable(d['_repr_pretty_']):
                return _display_module().pretty(obj)
            if c is not object and '__repr__' in d:
                break
    except Exception as e:
        _report_repr_failure(obj, '_repr_pretty_()', e)
    try:
        text = repr(obj)
        if isinstance(text, str):
            return text
    except Exception as e:
        _report_repr_failure(obj, 'repr()', e)
    return object.__repr__(obj)


def _is_figure(obj):
    mf = sys.modules.get('matplotlib.figure')
    if mf is None:
        return False
    try:
        return isinstance(obj, mf.Figure)
    except Exception:
        return False


def format_object(obj, include=None, exclude=None):
    """The mime bundle of obj and its metadata, by IPython's rules.

    Returns (data, metadata); data is empty when the object displayed itself
    (_ipython_display_). text/plain is always present otherwise.
    """
    if _is_figure(obj):
        return _display_module().figure_bundle(obj)
    method = _formatter_method(obj, '_ipython_display_')
    if method is not None:
        method()
        return {}, {}
    data = {}
    md = {}
    method = _formatter_method(obj, '_repr_mimebundle_')
    if method is not None:
        r = _call_repr(obj, '_repr_mimebundle_', method, include=include, exclude=exclude)
        if isinstance(r, tuple) and len(r) == 2:
            r, rmd = r
            if isinstance(rmd, dict):
                md.update(rmd)
        data = _normalize_bundle(r)
    plain = data.pop('text/plain', None)
    if plain is None:
        plain = _plain_text(obj)
    data = dict([('text/plain', plain)] + list(data.items()))
    for mime, name in _REPR_METHODS:
        if mime in data:
            continue
        if include and mime not in include:
            continue
        if exclude and mime in exclude:
            continue
        method = _formatter_method(obj, name)
        if method is None:
            continue
        r = _call_repr(obj, name, method)
        if isinstance(r, tuple) and len(r) == 2:
            r, rmd = r
            if rmd is not None:
                md[mime] = rmd
        if r is None:
            continue
        v = _normalize_value(mime, r)
        if v is not None:
            data[mime] = v
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, md


def _merge(d1, d2):
    for k, v in d2.items():
        if isinstance(v, dict) and isinstance(d1.get(k), dict):
            d1[k] = _merge(dict(d1[k]), v)
        else:
            d1[k] = v
    return d1


def publish_display_data(data, metadata=None, source=None, *, transient=None, update=False):
    """Send a display_data (update_display_data with update=True) message."""
    content = {'data': _normalize_bundle(data),
               'metadata': metadata if isinstance(metadata, dict) else {}}
    if transient:
        content['transient'] = transient
    if update:
        send_message('update_display_data', content)
    else:
        send_message('display_data', content)


class DisplayHandle:
    """A handle on a display output, for updating it later."""

    def __init__(self, display_id=None):
        if display_id is None:
            display_id = binascii.hexlify(os.urandom(16)).decode('ascii')
        self.display_id = display_id

    def __repr__(self):
        return '<%s display_id=%s>' % (self.__class__.__name__, self.display_id)

    def display(self, obj, **kwargs):
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        update_display(obj, display_id=self.display_id, **kwargs)


def display(*objs, include=None, exclude=None, metadata=None, transient=None,
            display_id=None, raw=False, clear=False, update=False):
    """Display objects as display_data outputs (IPython.display.display).

    display_id=True makes a new id; with an id given a DisplayHandle is
    returned. raw=True takes the objects as ready mime bundles.
    """
    transient = dict(transient) if transient else {}
    if display_id:
        if display_id is True:
            display_id = binascii.hexlify(os.urandom(16)).decode('ascii')
        transient['display_id'] = display_id
    if 'display_id' in transient:
        # The daemon acts on the id: a non-empty string without U+0000.
        did = transient['display_id']
        did = (did if isinstance(did, str) else str(did)).replace('\0', '\ufffd')
        transient['display_id'] = did or '-'
        display_id = display_id and did
    if update and 'display_id' not in transient:
        raise TypeError('display_id required for update_display')
    if not objs and display_id:
        # An empty output that can be updated later.
        objs = ({},)
        raw = True
    if clear:
        clear_output(wait=True)
    for obj in objs:
        if raw:
            data, md = obj, (dict(metadata) if metadata else {})
        else:
            data, md = format_object(obj, include=include, exclude=exclude)
            if not data:
                continue
            if metadata:
                _merge(md, metadata)
        publish_display_data(data, md, transient=transient, update=update)
    if display_id:
        return DisplayHandle(display_id)
    return None


def update_display(obj, *, display_id, **kwargs):
    """Update the output shown under display_id (an update_display_data message)."""
    kwargs['update'] = True
    display(obj, display_id=display_id, **kwargs)


def clear_output(wait=False):
    """Clear the cell's output (wait=True: when the next output arrives)."""
    send_message('clear_output', {'wait': bool(wait)})


def _display_result(value, execution_count):
    data, md = format_object(value)
    if data:
        send_message('execute_result', {'execution_count': execution_count,
                                        'data': data, 'metadata': md})


# --- Errors -------------------------------------------------------------------

_MAX_CHUNK = 4000        # characters per traceback entry
_MAX_FRAME_RUN = 40      # frames shown in a row before the middle is cut
_MAX_TRACEBACK = 16000   # characters in all entries


def _seed_linecache(linecache=None):
    if linecache is None:
        linecache = sys.modules.get('linecache')
        if linecache is None:
            return
    lines = [line + '\n' for line in _cell_lines]
    linecache.cache[CELL_FILENAME] = (len(_cell_source), None, lines, CELL_FILENAME)


def _strip_traceback(tb):
    """The traceback from the cell's first frame on; without one, without the
    runner's own leading frames."""
    t = tb
    while t is not None and t.tb_frame.f_code.co_filename != CELL_FILENAME:
        t = t.tb_next
    if t is not None:
        return t
    t = tb
    while t is not None and t.tb_frame.f_code.co_filename in _OWN_FILES:
        t = t.tb_next
    return t


def _compact(chunks):
    """Bound the traceback: long entries cut, long runs of frames (mutual
    recursion that Python's "[Previous line repeated]" does not fold) cut in
    the middle, the whole cut in the middle if still too long."""
    chunks = [c if len(c) <= _MAX_CHUNK else c[:_MAX_CHUNK] + '... [truncated]\n' for c in chunks]
    out = []
    run = []

    def end_run():
        if len(run) > _MAX_FRAME_RUN:
            head, tail = _MAX_FRAME_RUN // 4, _MAX_FRAME_RUN - _MAX_FRAME_RUN // 4
            out.extend(run[:head])
            out.append('  [... %d frames not shown ...]\n' % (len(run) - head - tail))
            out.extend(run[-tail:])
        else:
            out.extend(run)
        run.clear()

    for c in chunks:
        if c.startswith('  File "') or c.startswith('  [Previous line repeated'):
            run.append(c)
        else:
            end_run()
            out.append(c)
    end_run()
    if sum(len(c) for c in out) > _MAX_TRACEBACK:
        head, tail, size = [], [], 0
        for c in out:
            if size + len(c) > _MAX_TRACEBACK // 3:
                break
            head.append(c)
            size += len(c)
        size = 0
        for c in reversed(out[len(head):]):
            if size + len(c) > _MAX_TRACEBACK // 2:
                break
            tail.insert(0, c)
            size += len(c)
        cut = len(out) - len(head) - len(tail)
        out = head + ['[... %d traceback entries not shown ...]\n' % cut] + tail
    return [c.rstrip('\n') for c in out]


def _format_exception(exc, only=False):
    """Traceback entries (strings without trailing newline) for exc, cell frames only."""
    if sys.getrecursionlimit() < 1000:
        sys.setrecursionlimit(1000)
    import traceback
    _seed_linecache()
    if only:
        return _compact(list(traceback.format_exception_only(type(exc), exc)))
    tb = _strip_traceback(exc.__traceback__)
    exc.__traceback__ = tb
    te = traceback.TracebackException(type(exc), exc, tb, compact=True)
    return _compact(list(te.format()))


def _safe_str(exc):
    try:
        return str(exc)
    except BaseException:
        return '<exception str() failed>'


def _send_error(exc, only=False):
    ename = getattr(type(exc), '__name__', 'Exception')
    evalue = _safe_str(exc)
    try:
        tb = _format_exception(exc, only)
    except BaseException:
        # MemoryError, a stdlib module shadowed by a file in the cwd, ...
        tb = ['%s: %s' % (ename, evalue)]
    send_message('error', {'ename': ename, 'evalue': evalue, 'traceback': tb})


# --- Import hooks ------------------------------------------------------------

class _PostImportHooks:
    """First on sys.meta_path: runs a hook right after a watched module is
    executed. Seeds linecache with the cell when something imports linecache
    (importing it ourselves would cost tokenize and re on every run) and sets
    our matplotlib backend when matplotlib is imported."""

    def __init__(self, hooks):
        self.hooks = hooks

    def find_spec(self, fullname, path=None, target=None):
        hook = self.hooks.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find_spec = getattr(finder, 'find_spec', None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, 'exec_module'):
            return spec
        real_exec = loader.exec_module

        def exec_module(module):
            try:
                del loader.exec_module
            except AttributeError:
                pass
            real_exec(module)
            self.hooks.pop(fullname, None)
            try:
                hook(module)
            except Exception:
                pass

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            pass
        return spec


def _matplotlib_imported(matplotlib):
    # MPLBACKEND was taken out of the environment (a Python subprocess of the
    # cell could not import our backend); apply it as matplotlib would.
    if not os.environ.get('MPLBACKEND'):
        matplotlib.rcParams['backend'] = BACKEND


class _ShimFinder:
    """Last on sys.meta_path: serves our matplotlib backend module, and the
    modules IPython and IPython.display when no real IPython is installed."""

    SERVED = {
        BACKEND_NAME: False,
        'IPython': True,
        'IPython.display': False,
        'IPython.core': True,
        'IPython.core.display': False,
        'IPython.core.display_functions': False,
        'IPython.core.getipython': False,
    }

    def find_spec(self, fullname, path=None, target=None):
        is_package = self.SERVED.get(fullname)
        if is_package is None:
            return None
        from importlib.machinery import ModuleSpec
        return ModuleSpec(fullname, self, is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        _display_module().fill_module(module)


# --- Running the cell --------------------------------------------------------

def _split_lines(source):
    # The lines as the parser numbers them (str.splitlines also splits on
    # \f, \x1c, \u2028, ... which would shift the line numbers).
    return source.replace('\r\n', '\n').replace('\r', '\n').split('\n')


def _ends_with_semicolon(node):
    """True when a ';' follows the cell's last expression (IPython's quiet)."""
    row = node.end_lineno - 1
    if row >= len(_cell_lines):
        return False
    rest = _cell_lines[row].encode('utf-8')[node.end_col_offset:].decode('utf-8', 'replace')
    while True:
        rest = rest.lstrip(' \t\f')
        if rest.startswith(';'):
            return True
        if rest.rstrip() == '\\' and row + 1 < len(_cell_lines):
            row += 1
            rest = _cell_lines[row]
            continue
        return False


def _compile_cell(source):
    """Code object of the cell, and whether its last expression is shown."""
    flags = _ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(source, CELL_FILENAME, 'exec', _ast.PyCF_ONLY_AST | flags, dont_inherit=True)
    show = False
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = tree.body[-1]
        show = not _ends_with_semicolon(last)
        pos = dict(lineno=last.lineno, col_offset=last.col_offset,
                   end_lineno=last.end_lineno, end_col_offset=last.end_col_offset)
        target = _ast.Name(id=_RESULT_NAME, ctx=_ast.Store(), **pos)
        tree.body[-1] = _ast.Assign(targets=[target], value=last.value, **pos)
    return compile(tree, CELL_FILENAME, 'exec', flags, dont_inherit=True), show


def _exit_status(code):
    """Exit status for SystemExit(code), as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    try:
        text = str(code)
    except BaseException:
        text = '<exit message str() failed>'
    _write_stderr(text + '\n')
    return 1


def run_cell(source, namespace, execution_count):
    """Run the cell; return the exit status."""
    try:
        code, show = _compile_cell(source)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as e:
        _send_error(e, only=isinstance(e, SyntaxError))
        return 1
    try:
        if code.co_flags & _CO_COROUTINE:
            import asyncio
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)
        value = namespace.pop(_RESULT_NAME, None)
        if show and value is not None:
            _display_result(value, execution_count)
        return 0
    except SystemExit as e:
        return _exit_status(e.code)
    except BaseException as e:
        namespace.pop(_RESULT_NAME, None)
        _send_error(e)
        return 1


def end_of_cell():
    """Post-execute work: open matplotlib figures are shown."""
    if 'matplotlib.pyplot' in sys.modules:
        try:
            _display_module().flush_figures()
        except Exception as e:
            _report_failure('showing the open figures at the end of the cell failed:', e)


def _final_flush():
    # Registered first, so it runs after every atexit handler of the code.
    _stdout.flush_pending()
    _stderr.flush_pending()


# --- Start-up ------------------------------------------------------------------

def _die(message):
    try:
        os.write(2, ('pyexecd_runner: %s\n' % message).encode('utf-8', 'replace'))
    finally:
        os._exit(2)


def _parse_args(argv):
    count = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == '--execution-count' and i + 1 < len(argv):
            value = argv[i + 1]
            i += 2
        elif arg.startswith('--execution-count='):
            value = arg.split('=', 1)[1]
            i += 1
        else:
            _die('usage: pyexecd_runner.py [--execution-count N] (unknown argument %r)' % arg)
        try:
            count = int(value)
        except ValueError:
            _die('--execution-count needs an integer, not %r' % value)
    if count is not None and not 0 <= count <= 0x7fffffffffffffff:
        count = None  # nbformat: a non-negative integer or null
    return count


def _read_code():
    try:
        try:
            os.lseek(CODE_FD, 0, os.SEEK_SET)
        except OSError:
            pass  # a pipe
        chunks = []
        while True:
            chunk = os.read(CODE_FD, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(CODE_FD)
    except OSError as e:
        _die('cannot read the code from fd %d: %s' % (CODE_FD, e))
    return b''.join(chunks)


def _decode_code(data):
    """The cell as text; invalid UTF-8 is a SyntaxError naming the line, as
    Python reports for a source file."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode('utf-8'), None
    except UnicodeDecodeError as e:
        line = data.count(b'\n', 0, e.start) + 1
        err = SyntaxError('(unicode error) %s' % e,
                          (CELL_FILENAME, line, None, None))
        return None, err


def _setup_fds():
    try:
        os.fstat(WIRE_FD)
    except OSError:
        _die('fd %d (the message pipe) is not open' % WIRE_FD)
    # Programs the code executes must not write into the message pipe.
    os.set_inheritable(WIRE_FD, False)
    for fd in (1, 2, WIRE_FD):
        try:
            os.set_blocking(fd, True)
        except OSError:
            pass


def _setup_streams():
    global _raw_streams
    # Python's own sys.__stdout__ is block-buffered on a pipe: code that writes
    # to it (or restores sys.stdout = sys.__stdout__) would lose its output if
    # killed. Make the raw streams unbuffered (what -u does).
    _raw_streams = (sys.__stdout__, sys.__stderr__)
    raw = []
    for fd in (1, 2):
        try:
            raw.append(io.TextIOWrapper(io.FileIO(fd, 'w', closefd=False), encoding='utf-8',
                                        errors='backslashreplace', write_through=True))
        except OSError:
            raw.append(None)
    sys.__stdout__, sys.__stderr__ = raw
    sys.stdout = _stdout
    sys.stderr = _stderr

    stdin = sys.stdin
    if stdin is None:
        sys.stdin = sys.__stdin__ = open(os.devnull, encoding='utf-8')
    else:
        try:
            if stdin.seekable():
                stdin.seek(0)
            stdin.reconfigure(encoding='utf-8', errors='replace')
        except (OSError, ValueError, AttributeError):
            pass


_raw_streams = None


def _setup_process():
    os.register_at_fork(after_in_child=_wire.after_fork)
    atexit.register(_final_flush)
    try:
        import faulthandler
        faulthandler.enable(sys.__stderr__)  # a crash names the cell line on fd 2
    except Exception:
        pass

    # matplotlib: our backend, set when matplotlib is imported (see
    # _matplotlib_imported); a different backend chosen by the environment is kept.
    hooks = {'linecache': _seed_linecache}
    backend = os.environ.get('MPLBACKEND')
    if not backend or backend == BACKEND:
        os.environ.pop('MPLBACKEND', None)
        hooks['matplotlib'] = _matplotlib_imported
    sys.meta_path.insert(0, _PostImportHooks(hooks))
    sys.meta_path.append(_ShimFinder())

    # Modules in the working directory are importable, as in a notebook.
    sys.path.insert(0, '')
    sys.argv = ['']

    builtins.display = display
    builtins.update_display = update_display
    builtins.clear_output = clear_output
    print_.__name__ = print_.__qualname__ = 'print'
    builtins.print = print_


_builtin_print = builtins.print


def print_(*args, sep=' ', end='\n', file=None, flush=False):
    """print() with one write() per call on our streams. The built-in writes
    the text and its end separately, so a print of a forked child could land
    between them ("parent done" + "orphan alive\n" + "\n", case C18); a
    kernel's buffered streams never split a print either."""
    stream = sys.stdout if file is None else file
    if type(stream) is not OutStream:
        return _builtin_print(*args, sep=sep, end=end, file=file, flush=flush)
    if sep is None:
        sep = ' '
    elif not isinstance(sep, str):
        raise TypeError('sep must be None or a string, not %s' % type(sep).__name__)
    if end is None:
        end = '\n'
    elif not isinstance(end, str):
        raise TypeError('end must be None or a string, not %s' % type(end).__name__)
    stream.write(sep.join(map(str, args)) + end)


def _cell_namespace():
    main = type(sys)('__main__')
    main.__builtins__ = builtins
    sys.modules['__main__'] = main
    return main.__dict__


def main(argv):
    """Run the cell of fd 4 and return the exit status (the caller exits with
    it through sys.exit, a normal interpreter exit: non-daemon threads are
    joined, atexit handlers of the code run, C stdio buffers are flushed; a
    fork()ed child that reaches the end of the cell exits the same way)."""
    global _cell_source, _cell_lines
    entry = getattr(sys.modules.get('__main__'), '__file__', None)
    if entry:
        _OWN_FILES.add(entry)
    execution_count = _parse_args(argv)
    _setup_fds()
    data = _read_code()
    _setup_streams()
    _setup_process()
    namespace = _cell_namespace()

    source, err = _decode_code(data)
    if err is not None:
        _send_error(err, only=True)
        status = 1
    else:
        _cell_source = source
        _cell_lines = _split_lines(source)
        _seed_linecache()
        status = run_cell(source, namespace, execution_count)
    end_of_cell()
    # Restore our streams (code may have replaced them) so the interpreter's
    # final flush cannot fail and turn the status into 120.
    sys.stdout, sys.stderr = _stdout, _stderr
    return status
