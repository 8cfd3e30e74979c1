# SPDX-License-Identifier: LGPL-2.1-or-later
#
# nbformat-check.py FILE: every line of FILE (pyexecctl run --json) must be
# a Jupyter nbformat v4 output item as nbformat 4.5's schema defines it
# (output types, required members, no other members, mime bundles), or an
# update_display_data / clear_output event with its "msg_type". Prints a
# count per kind ("stream=3 display_data=1 ..."), exits 1 on the first bad
# line. (Written out here: python3-nbformat is not a dependency.)

import json
import re
import sys

MIME = re.compile(r'^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+$')


def fail(n, line, why):
    sys.exit('line %d: %s: %s' % (n, why, line[:200]))


def multiline_string(v):
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v))


def mimebundle(v):
    if not isinstance(v, dict):
        return False
    for k, x in v.items():
        if not MIME.match(k):
            return False
        # JSON mime types may hold any JSON; the others text (base64 for binaries).
        if not (k.endswith('json') or multiline_string(x)):
            return False
    return True


SHAPES = {
    'stream': ({'output_type', 'name', 'text'}, set()),
    'display_data': ({'output_type', 'data', 'metadata'}, set()),
    'execute_result': ({'output_type', 'execution_count', 'data', 'metadata'}, set()),
    'error': ({'output_type', 'ename', 'evalue', 'traceback'}, set()),
    'update_display_data': ({'msg_type', 'data', 'metadata', 'transient'}, set()),
    'clear_output': ({'msg_type', 'wait'}, set()),
}


def check(n, line):
    try:
        o = json.loads(line)
    except ValueError as e:
        fail(n, line, 'not JSON (%s)' % e)
    if not isinstance(o, dict):
        fail(n, line, 'not an object')
    kind = o.get('output_type', o.get('msg_type'))
    if kind not in SHAPES or ('output_type' in o and 'msg_type' in o):
        fail(n, line, 'neither an nbformat output_type nor a msg_type')
    required, optional = SHAPES[kind]
    if not required <= set(o) <= required | optional:
        fail(n, line, 'members %s, expected %s' % (sorted(o), sorted(required)))
    if kind == 'stream' and (o['name'] not in ('stdout', 'stderr') or not multiline_string(o['text'])):
        fail(n, line, 'bad stream')
    if kind in ('display_data', 'execute_result', 'update_display_data'):
        if not mimebundle(o['data']) or not isinstance(o['metadata'], dict):
            fail(n, line, 'bad mime bundle')
    if kind == 'execute_result':
        c = o['execution_count']
        if c is not None and not (isinstance(c, int) and not isinstance(c, bool) and c >= 0):
            fail(n, line, 'bad execution_count')
    if kind == 'error':
        if not (isinstance(o['ename'], str) and isinstance(o['evalue'], str) and
                isinstance(o['traceback'], list) and all(isinstance(t, str) for t in o['traceback'])):
            fail(n, line, 'bad error')
    if kind == 'update_display_data' and not isinstance(o['transient'].get('display_id'), str):
        fail(n, line, 'update without display_id')
    if kind == 'clear_output' and not isinstance(o['wait'], bool):
        fail(n, line, 'bad clear_output')
    return kind


def main():
    text = open(sys.argv[1], encoding='utf-8').read()
    if text and not text.endswith('\n'):
        sys.exit('the last line has no newline')
    counts = {}
    for n, line in enumerate(text.splitlines(), 1):
        kind = check(n, line)
        counts[kind] = counts.get(kind, 0) + 1
    print(' '.join('%s=%d' % kv for kv in sorted(counts.items())))


main()
