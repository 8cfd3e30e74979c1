# SPDX-License-Identifier: LGPL-2.1-or-later
"""Unit tests of src/runner/pyexecd_runner.py, run as the sandbox runs it
(see runner_harness.py). Plain unittest; run with /usr/bin/python3."""

import base64
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runner_harness as h  # noqa: E402

run = h.run_cell

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

# The cases of cases.jsonl that need no limit of the daemon (timeouts,
# memory, tasks, output size); C12 only for its stdout and signal.
RUNNER_CASES = ['C03', 'C04', 'C06', 'C07', 'C09', 'C10a', 'C10b', 'C10c', 'C10d',
                'C11', 'C12', 'C26', 'C27', 'C28', 'C32', 'C33']


def _cases_file():
    env = os.environ.get('PYEXECD_CASES')
    src = os.path.normpath(os.path.join(h.HERE, '..', '..'))
    candidates = [env] if env else []
    # DESIGN.md: the copy in tests/, else the shared original next to the repository.
    candidates += [os.path.join(src, 'tests', 'cases.jsonl'),
                   os.path.join(src, '..', 'shared', 'cases', 'cases.jsonl')]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    raise FileNotFoundError('cases.jsonl not found in %s' % candidates)


def load_cases():
    cases = {}
    with open(_cases_file(), encoding='utf-8') as f:
        for line in f:
            if line.strip():
                c = json.loads(line)
                cases[c['id']] = c
    return cases


def png_items(r):
    return [o for o in r.outputs() if 'image/png' in o.get('data', {})]


class CaseTests(unittest.TestCase):
    """The field cases, checked on the runner's own output."""

    @classmethod
    def setUpClass(cls):
        cls.cases = load_cases()

    def check_case(self, cid):
        case = self.cases[cid]
        exp = case['expect']
        r = run(case['code'], stdin=case.get('stdin'))
        outs = r.outputs()
        errors = [o for o in outs if o['output_type'] == 'error']
        if 'status' in exp:
            self.assertEqual(r.status(), exp['status'], r.messages)
        if 'exit_code' in exp:
            self.assertEqual(r.exit_code, exp['exit_code'])
        if 'signal' in exp:
            import signal
            self.assertIsNotNone(r.signal, r.returncode)
            self.assertEqual(signal.Signals(r.signal).name, exp['signal'])
        for name in ('stdout', 'stderr'):
            if name in exp:
                self.assertEqual(r.text(name), exp[name])
            if name + '_contains' in exp:
                self.assertIn(exp[name + '_contains'], r.text(name))
        if 'stdout_regex' in exp:
            self.assertRegex(r.text('stdout'), re.compile(exp['stdout_regex'] + r'\Z', re.S))
        if exp.get('no_error'):
            self.assertEqual(errors, [])
        if 'ename' in exp:
            self.assertTrue(errors, r.messages)
            self.assertEqual(errors[-1]['ename'], exp['ename'])
        if 'evalue_contains' in exp:
            self.assertIn(exp['evalue_contains'], errors[-1]['evalue'])
        if 'traceback_contains' in exp:
            self.assertIn(exp['traceback_contains'], '\n'.join(errors[-1]['traceback']))
        if 'result_text' in exp:
            results = [o for o in outs if o['output_type'] == 'execute_result']
            self.assertEqual(len(results), 1, outs)
            self.assertEqual(results[0]['data']['text/plain'], exp['result_text'])
        if 'has_html' in exp:
            self.assertEqual(any('text/html' in o.get('data', {}) for o in outs), exp['has_html'])
        if 'has_png' in exp:
            self.assertEqual(bool(png_items(r)), exp['has_png'])
        if 'png_count' in exp:
            self.assertEqual(len(png_items(r)), exp['png_count'])
        for o in png_items(r):
            self.assertTrue(base64.b64decode(o['data']['image/png'], validate=True).startswith(PNG_MAGIC))
        if 'sequence' in exp:
            self.assertEqual(r.sequence(), exp['sequence'])
        if 'outputs_max_bytes' in exp:
            size = len(json.dumps(outs, ensure_ascii=False).encode('utf-8'))
            self.assertLessEqual(size, exp['outputs_max_bytes'])
        return r

    def test_all_runner_cases_present(self):
        for cid in RUNNER_CASES:
            self.assertIn(cid, self.cases)

    def test_C03_carriage_return(self):
        r = self.check_case('C03')
        # The live messages keep the carriage returns.
        self.assertIn('\rprogress 100%', ''.join(c['text'] for c in r.of_type('stream')))

    def test_C04_invalid_utf8(self):
        self.check_case('C04')

    def test_C06_order(self):
        r = self.check_case('C06')
        self.assertEqual(r.text('stderr'), 'err1\nerr2\n')
        self.assertEqual(r.text('stdout'), 'out1\nout2\n')

    def test_C07_partial_line_finally_error(self):
        r = self.check_case('C07')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.errors()), 1)

    def test_C09_os_exit(self):
        self.check_case('C09')

    def test_C10a_exit0(self):
        self.check_case('C10a')

    def test_C10b_exit2(self):
        self.check_case('C10b')

    def test_C10c_exit_message(self):
        r = self.check_case('C10c')
        self.assertEqual(r.raw_stderr, b'')

    def test_C10d_caught_systemexit(self):
        self.check_case('C10d')

    def test_C11_recursion(self):
        r = self.check_case('C11')
        tb = '\n'.join(r.errors()[0]['traceback'])
        self.assertIn('Previous line repeated', tb)
        self.assertIn('line 2, in f', tb)

    def test_C12_segfault(self):
        case = self.cases['C12']
        r = run(case['code'])
        import signal
        self.assertEqual(r.signal, signal.SIGSEGV)
        self.assertEqual(r.text('stdout'), case['expect']['stdout'])
        # faulthandler names the cell's line on the raw stderr.
        self.assertIn(b'File "<cell>", line 3', r.raw_stderr)

    def test_C26_input_eof(self):
        self.check_case('C26')

    def test_C27_figures_in_order(self):
        r = self.check_case('C27')
        figs = [o for o in r.outputs() if o['output_type'] == 'display_data']
        self.assertEqual([o['data']['text/plain'] for o in figs],
                         ['<Figure size 640x480 with 1 Axes>'] * 3)

    def test_C28_figure_result_once(self):
        r = self.check_case('C28')
        self.assertEqual(r.sequence(), ['execute_result'])

    def test_C32_dataframe(self):
        r = self.check_case('C32')
        html = r.of_type('execute_result')[0]['data']['text/html']
        self.assertIn('<table', html)

    def test_C33_unicode(self):
        self.check_case('C33')


class ResultTests(unittest.TestCase):
    """The cell's last expression."""

    def result(self, r):
        res = r.of_type('execute_result')
        self.assertEqual(len(res), 1, r.messages)
        return res[0]

    def test_execution_count(self):
        r = run('x = 20\nx + 1', execution_count=7)
        self.assertEqual(self.result(r), {'execution_count': 7, 'data': {'text/plain': '21'},
                                          'metadata': {}})
        r = run('41 + 1')
        self.assertIsNone(self.result(r)['execution_count'])

    def test_trailing_semicolon(self):
        for code in ('1;', '1 ;  # comment', '(1);', 'x = 2\nx;', '(1,\n 2);', 'x = [1]\nx[0] ;\n\n'):
            r = run(code)
            self.assertEqual(r.messages, [], code)
            self.assertEqual(r.returncode, 0)
        for code in ('1  # ; not a semicolon', 'x = "a;"\nx', '[1, 2]', 'x = 1; x'):
            r = run(code)
            self.assertEqual(len(r.of_type('execute_result')), 1, code)

    def test_none_and_statements_not_shown(self):
        for code in ('None', 'print', 'x = 3', 'if True:\n    5', 'def f():\n    return 1\n', ''):
            r = run(code)
            shown = r.of_type('execute_result')
            if code == 'print':
                # The runner's print() (one write per call) stands in for the built-in.
                self.assertRegex(shown[0]['data']['text/plain'], r'^<function print at 0x[0-9a-f]+>$')
            else:
                self.assertEqual(shown, [], code)
            self.assertEqual(r.returncode, 0)

    def test_only_last_expression(self):
        r = run('1\n2\n3')
        self.assertEqual(self.result(r)['data'], {'text/plain': '3'})

    def test_top_level_await(self):
        r = run('import asyncio\nawait asyncio.sleep(0)\nasync def f():\n    return 40\n(await f()) + 2')
        self.assertEqual(self.result(r)['data'], {'text/plain': '42'})

    def test_namespace_is_main(self):
        code = ('import pickle, sys\n'
                'def f():\n    return 1\n'
                'assert pickle.loads(pickle.dumps(f)) is f\n'
                'print(__name__, f.__module__, "__file__" in globals(), sys.argv)\n')
        r = run(code)
        self.assertEqual(r.text('stdout'), "__main__ __main__ False ['']\n", r.messages)

    def test_cwd_importable(self):
        code = ('with open("helper_mod.py", "w") as f:\n    f.write("VALUE = 17\\n")\n'
                'import helper_mod\nhelper_mod.VALUE')
        r = run(code)
        self.assertEqual(self.result(r)['data']['text/plain'], '17')


class ReprTests(unittest.TestCase):
    """Rich representations of objects, by IPython's rules."""

    def bundle(self, code):
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        res = r.of_type('execute_result')
        self.assertEqual(len(res), 1, r.messages)
        return res[0], r

    def test_repr_methods(self):
        code = ('class R:\n'
                '    def __repr__(self): return "R()"\n'
                '    def _repr_html_(self): return "<b>r</b>"\n'
                '    def _repr_markdown_(self): return "**r**", {"k": 1}\n'
                '    def _repr_svg_(self): return "<svg></svg>"\n'
                '    def _repr_png_(self): return b"\\x89PNG\\r\\n\\x1a\\nxyz"\n'
                '    def _repr_jpeg_(self): return None\n'
                '    def _repr_latex_(self): return "$x$"\n'
                '    def _repr_json_(self): return {"a": [1, 2.5, None, float("nan")]}\n'
                '    def _repr_javascript_(self): return "alert(1)"\n'
                'R()')
        res, _ = self.bundle(code)
        self.assertEqual(res['data'], {
            'text/plain': 'R()',
            'text/html': '<b>r</b>',
            'text/markdown': '**r**',
            'image/svg+xml': '<svg></svg>',
            'image/png': base64.b64encode(b'\x89PNG\r\n\x1a\nxyz').decode(),
            'text/latex': '$x$',
            'application/json': {'a': [1, 2.5, None, None]},
            'application/javascript': 'alert(1)',
        })
        self.assertEqual(res['metadata'], {'text/markdown': {'k': 1}})
        self.assertEqual(list(res['data'])[0], 'text/plain')

    def test_mimebundle(self):
        code = ('class M:\n'
                '    def _repr_mimebundle_(self, include=None, exclude=None):\n'
                '        return {"text/plain": "M!", "application/vnd.x+json": {"v": 1},\n'
                '                "image/png": b"\\x89PNG"}, {"image/png": {"width": 3}}\n'
                '    def _repr_html_(self): return "<i>also</i>"\n'
                'M()')
        res, _ = self.bundle(code)
        self.assertEqual(res['data'], {'text/plain': 'M!', 'application/vnd.x+json': {'v': 1},
                                       'image/png': base64.b64encode(b'\x89PNG').decode(),
                                       'text/html': '<i>also</i>'})
        self.assertEqual(res['metadata'], {'image/png': {'width': 3}})

    def test_failing_repr_method_falls_back(self):
        code = ('class B:\n'
                '    def __repr__(self): return "B()"\n'
                '    def _repr_html_(self): raise ValueError("html broke")\n'
                '    def _repr_markdown_(self): raise NotImplementedError\n'
                'B()')
        res, r = self.bundle(code)
        self.assertEqual(res['data'], {'text/plain': 'B()'})
        self.assertEqual(r.errors(), [])
        err = r.text('stderr')
        self.assertIn('_repr_html_() of B object failed', err)
        self.assertIn('ValueError: html broke', err)
        self.assertIn('line 3, in _repr_html_', err)
        self.assertNotIn('NotImplementedError', err)

    def test_failing_repr(self):
        code = ('class C:\n'
                '    def __repr__(self): raise RuntimeError("no repr")\n'
                'C()')
        res, r = self.bundle(code)
        self.assertRegex(res['data']['text/plain'], r'^<__main__\.C object at 0x[0-9a-f]+>$')
        self.assertIn('RuntimeError: no repr', r.text('stderr'))

    def test_classes_and_proxies_do_not_claim_reprs(self):
        code = ('class K:\n'
                '    def _repr_html_(self): return "<b>k</b>"\n'
                'class P:\n'
                '    def __getattr__(self, name): return lambda *a, **k: "anything"\n'
                '    def __repr__(self): return "P()"\n'
                'display(K)\n'
                'P()')
        r = run(code)
        self.assertEqual(r.of_type('display_data')[0]['data'],
                         {'text/plain': "<class '__main__.K'>"})
        self.assertEqual(r.of_type('execute_result')[0]['data'], {'text/plain': 'P()'})

    def test_ipython_display(self):
        code = ('class D:\n'
                '    def _ipython_display_(self):\n'
                '        display({"text/plain": "custom", "text/html": "<p>c</p>"}, raw=True)\n'
                'D()')
        r = run(code)
        self.assertEqual(r.sequence(), ['display_data'])
        self.assertEqual(r.of_type('display_data')[0]['data'],
                         {'text/plain': 'custom', 'text/html': '<p>c</p>'})

    def test_repr_pretty(self):
        code = ('class Q:\n'
                '    def _repr_pretty_(self, p, cycle):\n'
                '        with p.group(2, "Q(", ")"):\n'
                '            p.text("a")\n'
                '            p.breakable()\n'
                '            p.pretty([1, 2])\n'
                'Q()')
        res, _ = self.bundle(code)
        self.assertEqual(res['data'], {'text/plain': 'Q(a [1, 2])'})
        # A subclass with its own __repr__ is shown with it (IPython's lookup).
        res, _ = self.bundle(code[:-3] + 'class Q2(Q):\n    def __repr__(self): return "q2"\nQ2()')
        self.assertEqual(res['data'], {'text/plain': 'q2'})

    def test_unserializable_json_and_metadata(self):
        code = ('class J:\n'
                '    def _repr_json_(self):\n'
                '        d = {"s": {1, 2}, "b": b"\\x00", (1, 2): 3, "inf": float("inf")}\n'
                '        d["self"] = d\n'
                '        return d, {"when": object.__new__(type("T", (), {"__str__": lambda s: "t"}))}\n'
                'J()')
        res, _ = self.bundle(code)
        self.assertEqual(res['data']['application/json'],
                         {'s': [1, 2], 'b': 'AA==', '(1, 2)': 3, 'inf': None, 'self': None})
        self.assertEqual(res['metadata'], {'application/json': {'when': 't'}})

    def test_values_the_daemon_would_refuse(self):
        # Mixed key types (a key twice), U+0000 in keys, integers beyond 64
        # bits, nesting beyond 256: each would make the daemon drop the line.
        code = ('deep = []\n'
                'for _ in range(400):\n    deep = [deep]\n'
                'class J:\n'
                '    def __init__(self, v): self.v = v\n'
                '    def _repr_json_(self): return self.v, {"k\\0": 1, 1: "a", "1": "b", "big": 2**70}\n'
                'display(J({1: "int", "1": "str", True: "t", None: 0, "null": 1}))\n'
                'display(J({"a\\0b": 1, "n": 2**64, "ok": 2**63 - 1, "neg": -2**63}))\n'
                'display(J(deep))\n'
                'display(J([[1]] * 3))\n'
                'display(1, display_id="x\\0y")\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        dd = r.of_type('display_data')
        self.assertEqual(len(dd), 5)
        # {1: "t", "1": "str"} (True is 1): the first "1" is kept.
        self.assertEqual(dd[0]['data']['application/json'], {'1': 't', 'null': 0})
        self.assertEqual(dd[0]['metadata'], {'application/json': {'k\ufffd': 1, '1': 'a', 'big': str(2**70)}})
        self.assertEqual(dd[1]['data']['application/json'],
                         {'a\ufffdb': 1, 'n': str(2**64), 'ok': 2**63 - 1, 'neg': -2**63})
        depth, v = 0, dd[2]['data']['application/json']
        while isinstance(v, list) and v:
            depth, v = depth + 1, v[0]
        self.assertLessEqual(depth, 101)
        self.assertEqual(dd[3]['data']['application/json'], [[1], [1], [1]])
        self.assertEqual(dd[4]['transient'], {'display_id': 'x\ufffdy'})

    def test_lone_surrogates_stay_valid_utf8(self):
        r = run('print("a\\udcffb\\ud83d\\ude00")\n'
                'class S:\n    def __repr__(self): return "x\\udc80"\nS()')
        self.assertEqual(r.text('stdout'), 'a\ufffdb\U0001F600\n')
        self.assertEqual(r.of_type('execute_result')[0]['data']['text/plain'], 'x\ufffd')


class DisplayTests(unittest.TestCase):
    """display(), update_display(), clear_output() and IPython.display."""

    def test_display_builtin(self):
        r = run('display(1, "two")\ndisplay(None)\nprint("after")')
        self.assertEqual(r.returncode, 0)
        self.assertEqual([m['msg_type'] for m in r.messages][:3], ['display_data'] * 3)
        self.assertEqual([c['data'] for c in r.of_type('display_data')],
                         [{'text/plain': '1'}, {'text/plain': "'two'"}, {'text/plain': 'None'}])
        self.assertNotIn('transient', r.of_type('display_data')[0])

    def test_display_id_update_clear(self):
        code = ('h = display("v1", display_id=True)\n'
                'print(type(h).__name__, len(h.display_id))\n'
                'h.update("v2")\n'
                'update_display("v3", display_id=h.display_id)\n'
                'h.display("again")\n'
                'g = display(display_id="mine")\n'
                'clear_output(wait=True)\n'
                'clear_output()\n'
                'print(display("x"))\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        t = [(m['msg_type'], m['content']) for m in r.messages if m['msg_type'] != 'stream']
        did = t[0][1]['transient']['display_id']
        self.assertRegex(did, r'^[0-9a-f]{32}$')
        self.assertEqual(t[0], ('display_data', {'data': {'text/plain': "'v1'"}, 'metadata': {},
                                                 'transient': {'display_id': did}}))
        self.assertEqual(t[1], ('update_display_data', {'data': {'text/plain': "'v2'"},
                                'metadata': {}, 'transient': {'display_id': did}}))
        self.assertEqual(t[2], ('update_display_data', {'data': {'text/plain': "'v3'"},
                                'metadata': {}, 'transient': {'display_id': did}}))
        self.assertEqual(t[3], ('display_data', {'data': {'text/plain': "'again'"},
                                'metadata': {}, 'transient': {'display_id': did}}))
        self.assertEqual(t[4], ('display_data', {'data': {}, 'metadata': {},
                                'transient': {'display_id': 'mine'}}))
        self.assertEqual(t[5], ('clear_output', {'wait': True}))
        self.assertEqual(t[6], ('clear_output', {'wait': False}))
        self.assertEqual(t[7], ('display_data', {'data': {'text/plain': "'x'"}, 'metadata': {}}))
        self.assertEqual(len(t), 8)
        self.assertEqual(''.join(c['text'] for c in r.of_type('stream')), 'DisplayHandle 32\nNone\n')
        # After applying the clears, only what followed them is stored.
        self.assertEqual(r.sequence(), ['display_data', 'stream:stdout'])
        # The order of streams and displays is kept.
        self.assertEqual([m['msg_type'] for m in r.messages][:3],
                         ['display_data', 'stream', 'update_display_data'])

    def test_update_needs_id(self):
        r = run('update_display("x", display_id=None)')
        self.assertEqual(r.errors()[0]['ename'], 'TypeError')

    def test_ipython_display_module(self):
        code = ('import IPython\n'
                'assert IPython.display.HTML.__name__ == "HTML"\n'
                'from IPython.display import HTML, Markdown, JSON, SVG, Latex, Math, Pretty, Javascript, display\n'
                'from IPython.core.display import HTML as H2\n'
                'assert H2 is HTML and IPython.get_ipython() is None\n'
                'assert IPython.display.Markdown is Markdown and IPython.__pyexecd_shim__\n'
                'display(HTML("<b>bold</b>"))\n'
                'display(Markdown("# title"))\n'
                'display(JSON({"a": [1, 2]}, expanded=True))\n'
                'display(SVG(\'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>\'))\n'
                'display(Latex("$\\\\alpha$"))\n'
                'display(Math("x^2"))\n'
                'display(Pretty("pretty text"))\n'
                'display(Javascript("console.log(1)"))\n'
                'HTML("<p>last</p>", metadata={"isolated": True})\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        d = [c['data'] for c in r.of_type('display_data')]
        self.assertEqual(d[0], {'text/plain': '<IPython.core.display.HTML object>',
                                'text/html': '<b>bold</b>'})
        self.assertEqual(d[1], {'text/plain': '<IPython.core.display.Markdown object>',
                                'text/markdown': '# title'})
        self.assertEqual(d[2], {'text/plain': '<IPython.core.display.JSON object>',
                                'application/json': {'a': [1, 2]}})
        self.assertEqual(r.of_type('display_data')[2]['metadata'],
                         {'application/json': {'expanded': True, 'root': 'root'}})
        self.assertEqual(d[3]['image/svg+xml'], '<svg xmlns="http://www.w3.org/2000/svg"/>')
        self.assertEqual(d[4]['text/latex'], '$\\alpha$')
        self.assertEqual(d[5]['text/latex'], '$\\displaystyle x^2$')
        self.assertEqual(d[6], {'text/plain': 'pretty text'})
        self.assertEqual(d[7]['application/javascript'], 'console.log(1)')
        res = r.of_type('execute_result')[0]
        self.assertEqual(res['data']['text/html'], '<p>last</p>')
        self.assertEqual(res['metadata'], {'text/html': {'isolated': True}})

    def test_image(self):
        png = PNG_MAGIC + b'\x00\x00\x00\rIHDR' + (20).to_bytes(4, 'big') + (10).to_bytes(4, 'big') + b'rest'
        jpeg = b'\xff\xd8\xff\xe0jpegdata'
        code = ('from IPython.display import Image\n'
                'png = %r\njpeg = %r\n'
                'with open("pic.png", "wb") as f:\n    f.write(png)\n'
                'display(Image(data=png))\n'
                'display(Image(filename="pic.png", width=50))\n'
                'display(Image(jpeg))\n'
                'display(Image(url="http://example.invalid/a.png"))\n'
                'display(Image("pic.png", retina=True))\n'
                'Image(png, format="png")\n' % (png, jpeg))
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        dd = r.of_type('display_data')
        b64png = base64.b64encode(png).decode()
        self.assertEqual(dd[0]['data'], {'text/plain': '<IPython.core.display.Image object>',
                                         'image/png': b64png})
        self.assertEqual(dd[1]['data']['image/png'], b64png)
        self.assertEqual(dd[1]['metadata'], {'image/png': {'width': 50}})
        self.assertEqual(dd[2]['data']['image/jpeg'], base64.b64encode(jpeg).decode())
        self.assertEqual(dd[3]['data']['text/html'], '<img src="http://example.invalid/a.png"/>')
        self.assertEqual(dd[4]['metadata'], {'image/png': {'width': 10, 'height': 5}})
        self.assertEqual(r.of_type('execute_result')[0]['data']['image/png'], b64png)

    def test_image_missing_file(self):
        r = run('from IPython.display import Image\nImage("missing.png")')
        self.assertEqual(r.errors()[0]['ename'], 'FileNotFoundError')

    def test_display_raw_include_metadata(self):
        code = ('display({"text/plain": "p", "text/html": "<b>h</b>", "image/png": b"\\x89PNG"},'
                ' raw=True, metadata={"image/png": {"height": 2}})\n'
                'class R:\n'
                '    def _repr_html_(self): return "<b>r</b>"\n'
                'display(R(), include=["text/html"])\n'
                'display(R(), exclude=["text/html"], metadata={"text/plain": {"x": 1}})\n'
                'from IPython.display import display_html, publish_display_data\n'
                'display_html("<i>raw</i>", raw=True)\n'
                'publish_display_data({"text/plain": "pub"})\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        dd = r.of_type('display_data')
        self.assertEqual(dd[0]['data'], {'text/plain': 'p', 'text/html': '<b>h</b>',
                                         'image/png': base64.b64encode(b'\x89PNG').decode()})
        self.assertEqual(dd[0]['metadata'], {'image/png': {'height': 2}})
        self.assertEqual(dd[1]['data'], {'text/html': '<b>r</b>'})
        self.assertEqual(list(dd[2]['data']), ['text/plain'])
        self.assertEqual(dd[2]['metadata'], {'text/plain': {'x': 1}})
        self.assertEqual(dd[3]['data'], {'text/html': '<i>raw</i>'})
        self.assertEqual(dd[4]['data'], {'text/plain': 'pub'})


class MatplotlibTests(unittest.TestCase):

    def test_display_figure_and_show(self):
        code = ('import matplotlib.pyplot as plt\n'
                'fig, ax = plt.subplots()\nax.plot([1, 2])\n'
                'display(fig)\n'               # shown once here ...
                'fig2 = plt.figure()\n'         # empty: text only
                'plt.show()\n'                  # fig (again) and fig2, then closed
                'fig3, ax3 = plt.subplots()\nax3.plot([3, 1])\n'
                'display(fig3)\n'
                'ax3.set_title("changed")\n'    # ... changed after display: shown at the end
                'fig4, ax4 = plt.subplots()\nax4.plot([0, 1])\n'
                'fig4.show()\n'                 # shown by fig.show(), unchanged since
                'print(plt.get_backend())\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        self.assertEqual(r.sequence(), ['display_data'] * 5 + ['stream:stdout'] + ['display_data'])
        dd = r.of_type('display_data')
        self.assertEqual([('image/png' in d['data']) for d in dd], [True, True, False, True, True, True])
        self.assertEqual(dd[2]['data'], {'text/plain': '<Figure size 640x480 with 0 Axes>'})
        self.assertEqual(r.text('stdout'), 'module://pyexecd_inline\n')

    def test_figure_in_error_cell_still_shown(self):
        r = run('import matplotlib.pyplot as plt\nplt.plot([1, 2])\nraise ValueError("x")')
        self.assertEqual(r.sequence(), ['error', 'display_data'])
        self.assertEqual(r.returncode, 1)

    def test_other_backend_left_alone(self):
        r = run('import matplotlib\nmatplotlib.use("agg")\nimport matplotlib.pyplot as plt\n'
                'plt.plot([1])\nplt.show()')
        self.assertEqual(r.messages, [])

    def test_backend_not_leaked_to_subprocesses(self):
        code = ('import os, subprocess, sys\n'
                'print(os.environ.get("MPLBACKEND"), flush=True)\n'
                'subprocess.run([sys.executable, "-c", "import matplotlib.pyplot as plt; '
                'plt.plot([1]); plt.savefig(\'sub.png\'); print(plt.get_backend())"], check=True)\n'
                'print(os.path.getsize("sub.png") > 0)')
        r = run(code)
        self.assertEqual(r.returncode, 0, (r.messages, r.raw_stderr))
        self.assertEqual(r.text('stdout'), 'None\nTrue\nagg\n')


class StreamTests(unittest.TestCase):

    def test_stream_attributes(self):
        code = ('import sys, io\n'
                'o, e = sys.stdout, sys.stderr\n'
                'print(o.encoding, o.errors, o.fileno(), e.fileno(), o.isatty(), o.writable(),\n'
                '      isinstance(o, io.TextIOBase), o.buffer.fileno(), o.name, e.name)\n'
                'o.flush(); o.buffer.flush(); o.reconfigure(line_buffering=True)\n'
                'n = (o.write("abc"), o.buffer.write(b"de"), o.buffer.write(memoryview(b"\\n")))\n'
                'print(*n)\n'
                'o.writelines(["x", "y\\n"])\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        self.assertEqual(r.text('stdout'),
                         'utf-8 replace 1 2 False True True 1 <stdout> <stderr>\nabcde\n3 2 1\nxy\n')

    def test_one_message_per_write(self):
        r = run('import sys\nsys.stdout.write("one write\\nwith lines\\n")\nprint("a", "b", sep="-")')
        # A print() is one write too, so nothing can land between its text and its end (C18).
        self.assertEqual([c['text'] for c in r.of_type('stream')],
                         ['one write\nwith lines\n', 'a-b\n'])

    def test_print_arguments(self):
        r = run('import sys\nprint(1, 2, sep=None, end=None)\nprint("x", end="")\nprint(file=sys.stderr)\n'
                'try:\n    print(1, sep=3)\nexcept TypeError as e:\n    print(e)\n'
                'import io\nb = io.StringIO()\nprint("to a file", file=b)\nprint(repr(b.getvalue()))')
        self.assertEqual(r.returncode, 0, r.messages)
        self.assertEqual([c['text'] for c in r.of_type('stream') if c['name'] == 'stdout'],
                         ['1 2\n', 'x', 'sep must be None or a string, not int\n', "'to a file\\n'\n"])
        self.assertEqual(r.text('stderr'), '\n')

    def test_write_type_errors(self):
        r = run('import sys\ntry:\n    sys.stdout.write(b"x")\nexcept TypeError as e:\n    print("T1")\n'
                'try:\n    sys.stdout.buffer.write("x")\nexcept TypeError as e:\n    print("T2")\n')
        self.assertEqual(r.text('stdout'), 'T1\nT2\n')

    def test_split_multibyte_and_pending(self):
        code = ('import sys\nb = sys.stdout.buffer\n'
                'b.write(b"\\xe2\\x82"); b.write(b"\\xac\\n")\n'   # one euro sign in two writes
                'b.write(b"\\xc3"); print("x")\n'                   # cut short by text
                'b.write(b"end\\xf0\\x9f")\n')                      # cut short by the exit
        r = run(code)
        self.assertEqual(r.text('stdout'), '\u20ac\n\ufffdx\nend\ufffd')

    def test_unflushed_partial_line_survives_kill(self):
        r = run('import os, sys\nprint("partial", end="")\nsys.stderr.write("err")\n'
                'print("raw", end="", file=sys.__stdout__)\nos.kill(os.getpid(), 9)')
        self.assertEqual(r.signal, 9)
        self.assertEqual([c['text'] for c in r.of_type('stream')], ['partial', 'err'])
        self.assertEqual(r.raw_stdout, b'raw')

    def test_raw_fds(self):
        code = ('import os, subprocess, sys\n'
                'os.write(1, b"os.write\\n")\n'
                'subprocess.run(["sh", "-c", "echo from sh; echo err >&2"])\n'
                'os.system("test -e /proc/self/fd/3 && echo fd3 leaked || echo no fd3")\n'
                'subprocess.run(["echo", "via fileno"], stdout=sys.stdout);\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        self.assertEqual(r.raw_stdout, b'os.write\nfrom sh\nno fd3\nvia fileno\n')
        self.assertEqual(r.raw_stderr, b'err\n')
        self.assertEqual(r.messages, [])

    def test_threads_do_not_interleave(self):
        # Small writes, and writes far beyond PIPE_BUF (the pipe fills and a
        # writer blocks in the middle of its message).
        code = ('import threading, sys\n'
                'def work(n):\n'
                '    for i in range(1500):\n'
                '        big = 300000 if i % 50 == 0 else i\n'
                '        sys.stdout.write("thread %d line %d " % (n, i) + "x" * big + "\\n")\n'
                'ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]\n'
                'for t in ts: t.start()\n'
                'for t in ts: t.join()\n')
        r = run(code)
        self.assertEqual(r.returncode, 0)
        texts = [c['text'] for c in r.of_type('stream')]
        self.assertEqual(len(texts), 6000)
        self.assertTrue(all(re.fullmatch(r'thread \d line \d+ x*\n', t) for t in texts))

    def test_thread_and_atexit_output_after_cell(self):
        code = ('import atexit, threading, time, sys\n'
                'atexit.register(lambda: print("atexit ran"))\n'
                'def late():\n    time.sleep(0.2)\n    print("thread done")\n'
                'threading.Thread(target=late).start()\n'
                'sys.exit(4)\n')
        r = run(code)
        self.assertEqual(r.exit_code, 4)
        self.assertEqual(r.text('stdout'), 'thread done\natexit ran\n')

    def test_fork_child_prints(self):
        code = ('import os, time\n'
                'pid = os.fork()\n'
                'if pid == 0:\n'
                '    print("child", flush=True)\n'
                '    os._exit(0)\n'
                'os.waitpid(pid, 0)\n'
                'print("parent")\n'
                'r = os.fork()\n'
                'if r == 0:\n'
                '    os.setsid()\n'
                '    if os.fork():\n'
                '        os._exit(0)\n'
                '    time.sleep(0.3)\n'
                '    print("orphan alive", flush=True)\n'
                '    os._exit(0)\n'
                'os.waitpid(r, 0)\n'
                'print("parent done")\n')
        r = run(code)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.text('stdout'), 'child\nparent\nparent done\norphan alive\n')

    def test_big_write_is_one_message(self):
        r = run('import sys\nsys.stdout.write("x" * 20_000_000)')
        texts = [c['text'] for c in r.of_type('stream')]
        self.assertEqual(len(texts), 1)
        self.assertEqual(len(texts[0]), 20_000_000)

    def test_warnings_and_logging_to_stderr(self):
        code = ('import warnings, logging\n'
                'warnings.warn("careful")\n'
                'logging.warning("logged")\n')
        r = run(code)
        err = r.text('stderr')
        self.assertIn('<cell>:2: UserWarning: careful\n  warnings.warn("careful")\n', err)
        self.assertIn('WARNING:root:logged\n', err)
        self.assertEqual(r.raw_stderr, b'')


class StdinTests(unittest.TestCase):

    def test_stdin_given(self):
        code = ('name = input("Your name: ")\nprint("got", repr(name))\n'
                'import sys\nprint(repr(sys.stdin.read()))\n'
                'try:\n    input()\nexcept EOFError:\n    print("EOF")\n')
        r = run(code, stdin='Ada Lovelace\nsecond line\n\u00e9\n')
        self.assertEqual(r.text('stdout'),
                         "Your name: got 'Ada Lovelace'\n'second line\\n\u00e9\\n'\nEOF\n")

    def test_stdin_invalid_utf8(self):
        r = run('print(repr(input()))', stdin=b'a\xffb\n')
        self.assertEqual(r.text('stdout'), "'a\ufffdb'\n")


class ErrorTests(unittest.TestCase):

    def error(self, code, **kw):
        r = run(code, **kw)
        errs = r.errors()
        self.assertEqual(len(errs), 1, r.messages)
        self.assertEqual(r.returncode, 1)
        return errs[0], r

    def test_traceback_shows_cell_only(self):
        e, _ = self.error('def f(x):\n    return 1 / x\n\nf(0)')
        self.assertEqual(e['ename'], 'ZeroDivisionError')
        self.assertEqual(e['evalue'], 'division by zero')
        tb = '\n'.join(e['traceback'])
        self.assertEqual(e['traceback'][0], 'Traceback (most recent call last):')
        self.assertIn('File "<cell>", line 4, in <module>\n    f(0)', tb)
        self.assertIn('File "<cell>", line 2, in f\n    return 1 / x', tb)
        self.assertEqual(e['traceback'][-1], 'ZeroDivisionError: division by zero')
        self.assertNotIn('pyexecd', tb)
        self.assertNotIn('runner', tb)

    def test_library_frames_kept(self):
        e, _ = self.error('import json\njson.loads("{")')
        tb = '\n'.join(e['traceback'])
        self.assertIn('File "<cell>", line 2, in <module>', tb)
        self.assertIn('json/decoder.py', tb)
        self.assertEqual(e['ename'], 'JSONDecodeError')

    def test_chained(self):
        e, _ = self.error('try:\n    {}["k"]\nexcept KeyError as k:\n    raise ValueError("v") from k')
        tb = '\n'.join(e['traceback'])
        self.assertIn("KeyError: 'k'", tb)
        self.assertIn('direct cause', tb)
        self.assertIn('line 4', tb)

    def test_syntax_error(self):
        e, r = self.error('x = 1\ny = (2 +\n')
        self.assertEqual(e['ename'], 'SyntaxError')
        self.assertIn('line 2', e['evalue'])
        tb = '\n'.join(e['traceback'])
        self.assertIn('File "<cell>", line 2', tb)
        self.assertIn('y = (2 +', tb)
        self.assertNotIn('Traceback', tb)
        self.assertEqual(r.sequence(), ['error'])

    def test_indentation_error(self):
        e, _ = self.error('if True:\nprint(1)\n')
        self.assertEqual(e['ename'], 'IndentationError')
        self.assertIn('File "<cell>", line 2', '\n'.join(e['traceback']))

    def test_compile_time_errors(self):
        e, _ = self.error('print(1)\nreturn 5\n')
        self.assertEqual(e['ename'], 'SyntaxError')
        self.assertIn("'return' outside function", e['evalue'])
        e, _ = self.error('x = "a\0b"\n')
        self.assertIn(e['ename'], ('ValueError', 'SyntaxError'))

    def test_runtime_syntax_error_has_frames(self):
        e, _ = self.error('eval("1 +")')
        tb = '\n'.join(e['traceback'])
        self.assertIn('File "<cell>", line 1, in <module>', tb)
        self.assertEqual(e['ename'], 'SyntaxError')

    def test_non_utf8_code(self):
        e, r = self.error(b'x = 1\nprint("caf\xe9")\n')
        self.assertEqual(e['ename'], 'SyntaxError')
        self.assertIn("can't decode byte 0xe9", e['evalue'])
        self.assertIn('line 2', e['evalue'])
        self.assertEqual(r.sequence(), ['error'])

    def test_bom_accepted(self):
        r = run(b'\xef\xbb\xbfprint("bom ok")\n')
        self.assertEqual(r.text('stdout'), 'bom ok\n')

    def test_keyboard_interrupt(self):
        e, _ = self.error('import os, signal\nprint("x")\nos.kill(os.getpid(), signal.SIGINT)\nimport time\ntime.sleep(5)')
        self.assertEqual(e['ename'], 'KeyboardInterrupt')
        self.assertEqual(e['evalue'], '')

    def test_mutual_recursion_bounded(self):
        e, r = self.error('def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)')
        self.assertEqual(e['ename'], 'RecursionError')
        size = len(json.dumps(r.outputs()).encode())
        self.assertLess(size, 20000)
        self.assertIn('frames not shown', '\n'.join(e['traceback']))

    def test_huge_line_bounded(self):
        e, r = self.error('x = [' + '1, ' * 100000 + '1/0]')
        self.assertLess(len(json.dumps(r.outputs())), 20000)

    def test_traceback_module_sees_cell_source(self):
        code = ('import traceback\ntry:\n    1/0\nexcept Exception:\n    traceback.print_exc()\n'
                'import inspect\ndef g():\n    return 42\nprint(inspect.getsource(g), end="")\n')
        r = run(code)
        self.assertEqual(r.returncode, 0, r.messages)
        self.assertIn('File "<cell>", line 3, in <module>\n    1/0\n', r.text('stderr'))
        self.assertEqual(r.text('stdout'), 'def g():\n    return 42\n')

    def test_exception_with_broken_str(self):
        e, _ = self.error('class E(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise E()')
        self.assertEqual(e['ename'], 'E')
        self.assertEqual(e['evalue'], '<exception str() failed>')

    def test_exit_codes(self):
        for code, status, err in (('import sys\nsys.exit(None)', 0, ''),
                                  ('import sys\nsys.exit(True)', 1, ''),
                                  ('raise SystemExit(300)', 300 & 0xff, ''),
                                  ('import sys\nsys.exit(-1)', 255, ''),
                                  ('import sys\nsys.exit(["a"])', 1, "['a']\n"),
                                  ('exit(3)', 3, '')):
            r = run(code)
            self.assertEqual(r.exit_code, status, code)
            self.assertEqual(r.text('stderr'), err, code)
            self.assertEqual(r.errors(), [], code)

    def test_stdout_replaced_by_code(self):
        r = run('import sys, io\nsys.stdout = io.StringIO()\nprint("hidden")\nsys.stdout.close()\n1')
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.of_type('execute_result')[0]['data'], {'text/plain': '1'})


class StartupTests(unittest.TestCase):

    def test_imports_nothing_heavy(self):
        code = ('import sys\n'
                'heavy = [m for m in ("json", "traceback", "linecache", "re", "asyncio", "ast",\n'
                '          "pyexecd_display", "tokenize", "inspect", "threading") if m in sys.modules]\n'
                'print(heavy)\n')
        r = run(code)
        self.assertEqual(r.text('stdout'), '[]\n')

    def test_bad_arguments(self):
        r = run('print(1)', runner=None, execution_count='x')
        self.assertEqual(r.returncode, 2)
        self.assertIn(b'--execution-count', r.raw_stderr)
        self.assertEqual(r.messages, [])


if __name__ == '__main__':
    unittest.main()
