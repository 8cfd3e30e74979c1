# SPDX-License-Identifier: LGPL-2.1-or-later
"""The rarely needed half of the runner, loaded only when a cell needs it.

- the IPython.display classes (HTML, Markdown, Image, JSON, SVG, Latex, Math,
  Pretty, Javascript, IFrame) and functions, served as the modules IPython
  and IPython.display when no real IPython is installed;
- the matplotlib backend module://pyexecd_inline (Agg; show() emits the open
  figures as image/png display_data, the runner shows the rest at the end of
  the cell);
- a small stand-in for IPython's pretty printer, for _repr_pretty_ methods.
"""

import binascii
import copy
import os
import sys

from pyexecd_core import (  # noqa: F401 (re-exported through IPython.display)
    BACKEND,
    DisplayHandle,
    clear_output,
    display,
    publish_display_data,
    update_display,
)

# --- _repr_pretty_ ---------------------------------------------------------------


class _Printer:
    """Enough of IPython.lib.pretty.RepresentationPrinter for _repr_pretty_
    methods: text, breakable, pretty, groups and indentation. Lines are not
    re-wrapped."""

    def __init__(self):
        self.out = []
        self.indentation = 0
        self._stack = set()

    def text(self, obj):
        self.out.append(str(obj))

    def breakable(self, sep=' '):
        self.out.append(sep)

    def break_(self):
        self.out.append('\n' + ' ' * self.indentation)

    def begin_group(self, indent=0, open=''):
        self.indentation += indent
        if open:
            self.out.append(open)

    def end_group(self, dedent=0, close=''):
        self.indentation -= dedent
        if close:
            self.out.append(close)

    def group(self, indent=0, open='', close=''):
        printer = self

        class _Group:
            def __enter__(self):
                printer.begin_group(indent, open)

            def __exit__(self, *exc):
                printer.end_group(indent, close)

        return _Group()

    def indent(self, indent):
        return self.group(indent)

    def flush(self):
        pass

    def pretty(self, obj):
        cycle = id(obj) in self._stack
        method = None
        for c in type(obj).__mro__:
            if '_repr_pretty_' in c.__dict__:
                method = c.__dict__['_repr_pretty_']
                break
            if c is not object and '__repr__' in c.__dict__:
                break
        if method is None or not callable(method):
            self.text(repr(obj))
            return
        self._stack.add(id(obj))
        try:
            method(obj, self, cycle)
        finally:
            self._stack.discard(id(obj))

    def getvalue(self):
        return ''.join(self.out)


def pretty(obj):
    """text/plain of an object with a _repr_pretty_ method."""
    p = _Printer()
    p.pretty(obj)
    return p.getvalue()


# --- matplotlib -------------------------------------------------------------------


def _has_content(fig):
    # IPython shows no image for an empty figure (only its text/plain).
    return bool(fig.axes or fig.lines or fig.images or fig.texts or fig.patches)


def figure_png(fig):
    """PNG bytes of a figure as IPython's inline backend renders it, or None
    for an empty figure."""
    if not _has_content(fig):
        return None
    import io
    if fig.canvas is None:
        from matplotlib.backend_bases import FigureCanvasBase
        FigureCanvasBase(fig)
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format='png', bbox_inches='tight',
                            facecolor=fig.get_facecolor(),
                            edgecolor=fig.get_edgecolor(), dpi=fig.dpi)
    return buf.getvalue()


def figure_bundle(fig):
    """(data, metadata) of a matplotlib figure; marks it shown so the end of
    the cell does not show it again unless it changes."""
    data = {'text/plain': repr(fig)}
    png = figure_png(fig)
    if png is not None:
        data['image/png'] = binascii.b2a_base64(png, newline=False).decode('ascii')
    fig._pyexecd_shown = True
    # Rendering leaves the figure stale (dpi is set and restored); what we
    # showed is its current state. Any later change to it sets stale again.
    fig.stale = False
    return data, {}


def _backend_active():
    matplotlib = sys.modules.get('matplotlib')
    if matplotlib is None:
        return False
    try:
        return dict.get(matplotlib.rcParams, 'backend') == BACKEND
    except Exception:
        return False


def show(close=None, block=None):
    """plt.show(): every open figure as display_data, then closed."""
    from matplotlib._pylab_helpers import Gcf
    managers = Gcf.get_all_fig_managers()
    try:
        for manager in managers:
            display(manager.canvas.figure)
    finally:
        if close is not False and managers:
            import matplotlib.pyplot as plt
            plt.close('all')


def flush_figures():
    """End of the cell: each open pyplot figure not shown yet (or changed
    since) is shown once."""
    if not _backend_active():
        return
    from matplotlib._pylab_helpers import Gcf
    for manager in Gcf.get_all_fig_managers():
        fig = manager.canvas.figure
        if getattr(fig, '_pyexecd_shown', False) and not fig.stale:
            continue
        display(fig)


def _fill_backend(module):
    from matplotlib.backend_bases import FigureManagerBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    class FigureManager(FigureManagerBase):
        def show(self):
            # fig.show() displays the figure here instead of warning about a
            # non-GUI backend.
            display(self.canvas.figure)

    class FigureCanvas(FigureCanvasAgg):
        manager_class = FigureManager

    FigureManager.__module__ = FigureCanvas.__module__ = module.__name__
    module.FigureCanvas = FigureCanvas
    module.FigureManager = FigureManager
    module.show = show
    module.flush_figures = flush_figures
    module.backend_version = 'pyexecd'


# --- IPython.display ----------------------------------------------------------------


def _safe_exists(path):
    try:
        return os.path.exists(path)
    except (ValueError, TypeError, OSError):
        return False


def _fspath(data):
    if hasattr(data, '__fspath__') and not isinstance(data, (str, bytes)):
        return os.fspath(data)
    return data


class DisplayObject:
    """An object that wraps data to be displayed (IPython's API)."""

    _read_flags = 'r'
    _show_mem_addr = False
    metadata = None

    def __init__(self, data=None, url=None, filename=None, metadata=None):
        data = _fspath(data)
        if data is not None and isinstance(data, str):
            if data.startswith('http') and url is None:
                url = data
                filename = None
                data = None
            elif _safe_exists(data) and filename is None:
                url = None
                filename = data
                data = None
        self.url = url
        self.filename = filename
        self.data = data
        if metadata is not None:
            self.metadata = metadata
        elif self.metadata is None:
            self.metadata = {}
        self.reload()
        self._check_data()

    def __repr__(self):
        if not self._show_mem_addr:
            cls = self.__class__
            return '<%s.%s object>' % (cls.__module__, cls.__name__)
        return super().__repr__()

    def _check_data(self):
        pass

    def _data_and_metadata(self):
        if self.metadata:
            return self.data, copy.deepcopy(self.metadata)
        return self.data

    def reload(self):
        """Reload the data from the file (URLs are not fetched: the sandbox
        has no network)."""
        if self.filename is not None:
            encoding = None if 'b' in self._read_flags else 'utf-8'
            with open(self.filename, self._read_flags, encoding=encoding) as f:
                self.data = f.read()


class TextDisplayObject(DisplayObject):
    """A display object whose data is text."""

    def _check_data(self):
        if isinstance(self.data, bytes):
            self.data = self.data.decode('utf-8', 'replace')
        if self.data is not None and not isinstance(self.data, str):
            raise TypeError('%s expects text, not %r' % (self.__class__.__name__, self.data))


class Pretty(TextDisplayObject):
    def _repr_pretty_(self, pp, cycle):
        return pp.text(self.data)


class HTML(TextDisplayObject):
    def _repr_html_(self):
        return self._data_and_metadata()

    def __html__(self):
        return self._repr_html_()


class Markdown(TextDisplayObject):
    def _repr_markdown_(self):
        return self._data_and_metadata()


class Math(TextDisplayObject):
    def _repr_latex_(self):
        s = r'$\displaystyle %s$' % self.data.strip('$')
        if self.metadata:
            return s, copy.deepcopy(self.metadata)
        return s


class Latex(TextDisplayObject):
    def _repr_latex_(self):
        return self._data_and_metadata()


class SVG(DisplayObject):
    _read_flags = 'rb'

    def _check_data(self):
        if isinstance(self.data, (bytes, bytearray)):
            self.data = bytes(self.data).decode('utf-8', 'replace')
        if self.data is not None:
            # IPython keeps only the <svg> element (drops an XML prolog).
            start = self.data.find('<svg')
            if start > 0:
                self.data = self.data[start:]

    def _repr_svg_(self):
        return self._data_and_metadata()


class JSON(DisplayObject):
    """JSON data, shown as an expandable tree by notebook front ends."""

    def __init__(self, data=None, url=None, filename=None, expanded=False,
                 metadata=None, root='root', **kwargs):
        self.metadata = {'expanded': expanded, 'root': root}
        if metadata:
            self.metadata.update(metadata)
        if kwargs:
            self.metadata.update(kwargs)
        super().__init__(data=data, url=url, filename=filename)

    def _check_data(self):
        if self.data is not None and not isinstance(self.data, (dict, list)):
            raise TypeError('%s expects JSONable dict or list, not %r'
                            % (self.__class__.__name__, self.data))

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, data):
        data = _fspath(data)
        if isinstance(data, bytes):
            data = data.decode('utf-8', 'replace')
        if data and isinstance(data, str):
            import json
            data = json.loads(data)
        self._data = data

    def _data_and_metadata(self):
        return self.data, self.metadata

    def _repr_json_(self):
        return self._data_and_metadata()


class Javascript(TextDisplayObject):
    def __init__(self, data=None, url=None, filename=None, lib=None, css=None):
        if isinstance(lib, str):
            lib = [lib]
        if isinstance(css, str):
            css = [css]
        self.lib = lib or []
        self.css = css or []
        super().__init__(data=data, url=url, filename=filename)

    def _repr_javascript_(self):
        r = ''
        for c in self.css:
            r += ('var link = document.createElement("link");'
                  'link.rel = "stylesheet"; link.type = "text/css"; link.href = "%s";'
                  'document.head.appendChild(link);\n' % c)
        if self.data is not None:
            r += self.data
        elif self.url is not None:
            r += 'var s = document.createElement("script"); s.src = "%s"; document.head.appendChild(s);\n' % self.url
        return r


class IFrame:
    """An IFrame of a URL (IPython.display.IFrame)."""

    iframe = """
        <iframe
            width="{width}"
            height="{height}"
            src="{src}{params}"
            frameborder="0"
            allowfullscreen
            {extras}
        ></iframe>
        """

    def __init__(self, src, width, height, extras=None, **kwargs):
        self.src = src
        self.width = width
        self.height = height
        self.extras = extras or []
        self.params = kwargs

    def _repr_html_(self):
        from urllib.parse import urlencode
        params = '?' + urlencode(self.params) if self.params else ''
        return self.iframe.format(src=self.src, width=self.width, height=self.height,
                                  params=params, extras=' '.join(self.extras))


_PNG = b'\x89PNG\r\n\x1a\n'
_JPEG = b'\xff\xd8'


class Image(DisplayObject):
    """An image: PNG, JPEG or GIF data, a file, or a URL (IPython's API)."""

    _read_flags = 'rb'
    _FMT_JPEG = 'jpeg'
    _FMT_PNG = 'png'
    _FMT_GIF = 'gif'
    _ACCEPTABLE_EMBEDDINGS = [_FMT_JPEG, _FMT_PNG, _FMT_GIF]
    _MIMETYPES = {_FMT_PNG: 'image/png', _FMT_JPEG: 'image/jpeg', _FMT_GIF: 'image/gif'}

    def __init__(self, data=None, url=None, filename=None, format=None, embed=None,
                 width=None, height=None, retina=False, unconfined=False,
                 metadata=None, alt=None):
        data = _fspath(data)
        if filename is not None:
            ext = self._find_ext(filename)
        elif url is not None:
            ext = self._find_ext(url)
        elif data is None:
            raise ValueError('No image data found. Expecting filename, url, or data.')
        elif isinstance(data, str) and (data.startswith('http') or _safe_exists(data)):
            ext = self._find_ext(data)
        elif isinstance(data, str):
            raise FileNotFoundError('No such file or directory: %r' % data)
        else:
            ext = None

        if format is None:
            if ext is not None:
                if ext in ('jpg', 'jpeg'):
                    format = self._FMT_JPEG
                elif ext == 'png':
                    format = self._FMT_PNG
                elif ext == 'gif':
                    format = self._FMT_GIF
                else:
                    format = ext.lower()
            elif isinstance(data, (bytes, bytearray)):
                if data[:2] == _JPEG:
                    format = self._FMT_JPEG
                elif data[:6] in (b'GIF87a', b'GIF89a'):
                    format = self._FMT_GIF
        if format is None:
            format = self._FMT_PNG
        if format.lower() == 'jpg':
            format = self._FMT_JPEG
        self.format = format.lower()
        self.embed = embed if embed is not None else (url is None)
        if self.embed and self.format not in self._ACCEPTABLE_EMBEDDINGS:
            raise ValueError("Cannot embed the '%s' image format" % self.format)
        if self.embed:
            self._mimetype = self._MIMETYPES.get(self.format)
        self.width = width
        self.height = height
        self.retina = retina
        self.unconfined = unconfined
        self.alt = alt
        super().__init__(data=data, url=url, filename=filename, metadata=metadata)
        if self.width is None and self.metadata.get('width', {}):
            self.width = self.metadata['width']
        if self.height is None and self.metadata.get('height', {}):
            self.height = self.metadata['height']
        if self.alt is None and self.metadata.get('alt', {}):
            self.alt = self.metadata['alt']
        if retina:
            self._retina_shape()

    def _retina_shape(self):
        # Half the pixel size, for high-dpi PNGs (IPython reads the IHDR chunk).
        if self.format == self._FMT_PNG and isinstance(self.data, bytes) \
                and self.data[:8] == _PNG and len(self.data) >= 24:
            w = int.from_bytes(self.data[16:20], 'big')
            h = int.from_bytes(self.data[20:24], 'big')
            self.width, self.height = w // 2, h // 2

    def reload(self):
        if self.embed:
            super().reload()

    def _repr_html_(self):
        if not self.embed:
            import html
            width = height = klass = alt = ''
            if self.width:
                width = ' width="%d"' % self.width
            if self.height:
                height = ' height="%d"' % self.height
            if self.unconfined:
                klass = ' class="unconfined"'
            if self.alt:
                alt = ' alt="%s"' % html.escape(self.alt)
            return '<img src="%s"%s%s%s%s/>' % (self.url, width, height, klass, alt)
        return None

    def _repr_mimebundle_(self, include=None, exclude=None):
        if self.embed:
            mimetype = self._mimetype
            data, metadata = self._data_and_metadata(always_both=True)
            if metadata:
                metadata = {mimetype: metadata}
            return {mimetype: data}, metadata
        return {'text/html': self._repr_html_()}

    def _data_and_metadata(self, always_both=False):
        try:
            b64 = binascii.b2a_base64(self.data, newline=False).decode('ascii')
        except TypeError as e:
            raise FileNotFoundError('No such file or directory: %r' % (self.data,)) from e
        md = {}
        if self.metadata:
            md.update(self.metadata)
        if self.width:
            md['width'] = self.width
        if self.height:
            md['height'] = self.height
        if self.unconfined:
            md['unconfined'] = self.unconfined
        if self.alt:
            md['alt'] = self.alt
        if md or always_both:
            return b64, md
        return b64

    def _repr_png_(self):
        if self.embed and self.format == self._FMT_PNG:
            return self._data_and_metadata()
        return None

    def _repr_jpeg_(self):
        if self.embed and self.format == self._FMT_JPEG:
            return self._data_and_metadata()
        return None

    def _find_ext(self, s):
        base, ext = os.path.splitext(s)
        if not ext:
            return base
        return ext[1:].lower()


def _display_mimetype(mimetype, objs, raw=False, metadata=None):
    if metadata:
        metadata = {mimetype: metadata}
    if raw:
        objs = [{mimetype: obj} for obj in objs]
    display(*objs, raw=raw, metadata=metadata, include=[mimetype])


def display_pretty(*objs, raw=False, metadata=None):
    _display_mimetype('text/plain', objs, raw=raw, metadata=metadata)


def display_html(*objs, raw=False, metadata=None):
    _display_mimetype('text/html', objs, raw=raw, metadata=metadata)


def display_markdown(*objs, raw=False, metadata=None):
    _display_mimetype('text/markdown', objs, raw=raw, metadata=metadata)


def display_svg(*objs, raw=False, metadata=None):
    _display_mimetype('image/svg+xml', objs, raw=raw, metadata=metadata)


def display_png(*objs, raw=False, metadata=None):
    _display_mimetype('image/png', objs, raw=raw, metadata=metadata)


def display_jpeg(*objs, raw=False, metadata=None):
    _display_mimetype('image/jpeg', objs, raw=raw, metadata=metadata)


def display_latex(*objs, raw=False, metadata=None):
    _display_mimetype('text/latex', objs, raw=raw, metadata=metadata)


def display_json(*objs, raw=False, metadata=None):
    _display_mimetype('application/json', objs, raw=raw, metadata=metadata)


def display_javascript(*objs, raw=False, metadata=None):
    _display_mimetype('application/javascript', objs, raw=raw, metadata=metadata)


def set_matplotlib_formats(*formats, **kwargs):
    """Accepted for compatibility; figures are always PNG here."""


def get_ipython():
    """There is no IPython shell: None, as in plain Python."""
    return None


DISPLAY_NAMES = [
    'display', 'update_display', 'clear_output', 'publish_display_data',
    'DisplayHandle', 'DisplayObject', 'TextDisplayObject', 'HTML', 'Markdown',
    'Math', 'Latex', 'SVG', 'JSON', 'Javascript', 'Image', 'Pretty', 'IFrame',
    'display_pretty', 'display_html', 'display_markdown', 'display_svg',
    'display_png', 'display_jpeg', 'display_latex', 'display_json',
    'display_javascript', 'set_matplotlib_formats',
]

for _name in DISPLAY_NAMES:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__ == __name__:
        _obj.__module__ = 'IPython.core.display'
del _name, _obj


def fill_module(module):
    """Fill a module served by the runner's _ShimFinder."""
    name = module.__name__
    if name == 'pyexecd_inline':
        _fill_backend(module)
        return
    module.__pyexecd_shim__ = True
    if name in ('IPython.display', 'IPython.core.display', 'IPython.core.display_functions'):
        for n in DISPLAY_NAMES:
            setattr(module, n, globals()[n])
        module.__all__ = list(DISPLAY_NAMES)
    elif name == 'IPython':
        # IPython.display is the submodule (from IPython import display),
        # reachable as an attribute after a bare `import IPython` too.
        def __getattr__(attr):
            if attr in ('display', 'core'):
                import importlib
                return importlib.import_module('IPython.' + attr)
            raise AttributeError("module 'IPython' has no attribute %r" % attr)

        module.__getattr__ = __getattr__
        module.get_ipython = get_ipython
        module.__doc__ = 'Stand-in for IPython provided by pyexecd (IPython is not installed).'
    elif name == 'IPython.core.getipython':
        module.get_ipython = get_ipython
