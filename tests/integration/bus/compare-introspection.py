#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# compare-introspection CONTRACT.xml INTERFACE INTROSPECTED.xml
#
# Compares one interface of the D-Bus contract (dbus/org.pyexecd.Executor1.xml)
# with what the running daemon introspects for it: the same methods (argument
# names, types and directions, in order), signals (arguments) and properties
# (types and access), nothing missing and nothing more. Formatting, comments
# and the standard org.freedesktop.DBus.* interfaces do not count. A property
# the contract marks EmitsChangedSignal=true must not be introspected as
# const, invalidates or false. Prints the differences; exits 1 if any.

import sys
import xml.etree.ElementTree as ET


def load(path, name):
    root = ET.parse(path).getroot()
    for iface in root.iter('interface'):
        if iface.get('name') == name:
            return iface
    return None


def emits(elem):
    for a in elem.findall('annotation'):
        if a.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal':
            return a.get('value')
    return 'true'   # the D-Bus specification's default


def describe(iface):
    members = {}
    for m in iface.findall('method'):
        members['method ' + m.get('name')] = [
            (a.get('name'), a.get('type'), a.get('direction', 'in')) for a in m.findall('arg')]
    for s in iface.findall('signal'):
        members['signal ' + s.get('name')] = [(a.get('name'), a.get('type')) for a in s.findall('arg')]
    for p in iface.findall('property'):
        members['property ' + p.get('name')] = (p.get('type'), p.get('access'))
    return members


def main():
    contract_path, name, introspected_path = sys.argv[1:4]
    contract = load(contract_path, name)
    got = load(introspected_path, name)
    if contract is None:
        print(f'{name}: not in the contract {contract_path}')
        return 1
    if got is None:
        print(f'{name}: not introspected')
        return 1

    want, have = describe(contract), describe(got)
    problems = []
    for k in sorted(want.keys() - have.keys()):
        problems.append(f'{name}: {k} is in the contract but not on the bus')
    for k in sorted(have.keys() - want.keys()):
        problems.append(f'{name}: {k} is on the bus but not in the contract')
    for k in sorted(want.keys() & have.keys()):
        if want[k] != have[k]:
            problems.append(f'{name}: {k}: contract {want[k]}, bus {have[k]}')

    got_props = {p.get('name'): p for p in got.findall('property')}
    for p in contract.findall('property'):
        if emits(p) == 'true' and any(a.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal'
                                      for a in p.findall('annotation')):
            g = got_props.get(p.get('name'))
            if g is not None and emits(g) != 'true':
                problems.append(f'{name}: property {p.get("name")} must emit PropertiesChanged, '
                                f'but is introspected as EmitsChangedSignal={emits(g)}')

    for line in problems:
        print(line)
    if not problems:
        print(f'{name}: {len(want)} members match the contract')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
