#!/usr/bin/env python3
"""Runs `perfwatch serve` under callgrind through a steady monitor's work and
writes the functions it executed, hottest first, to hot-functions.txt.

    python3 host/link/profile.py target/release/perfwatch

Start-up is left out (callgrind's counters are zeroed once the host listens),
so the list holds what runs again and again: JSON ingest, the tick,
compaction with its rollups and cache release, range and latest queries.
Needs valgrind; takes about ten minutes. See README.md beside it.
"""
import math, os, re, subprocess, sys, tempfile, time, urllib.request
from collections import Counter

SERIES, HISTORY_S, LIVE_S = 2000, 600, 60
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    exe = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    config = os.path.join(work, 'perfwatch.toml')
    with open(config, 'w') as f:
        f.write(f'port = 0\ndata_dir = "{work}/data"\nplugins_dir = "{work}/plugins"\n'
                f'rules_dir = "{work}/rules"\nupdate_interval = 1000\ncompaction_interval = 10000\n')
    profile = os.path.join(work, 'callgrind.out')
    host = subprocess.Popen(
        ['valgrind', '--tool=callgrind', '--demangle=no', f'--callgrind-out-file={profile}',
         exe, 'serve', '--config', config],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, 'host.log'), 'w'), text=True)
    addr = next((m.group(1) for line in host.stdout
                 if (m := re.match(r'perfwatch listening on http://(\S+)', line))), None)
    if addr is None:
        sys.exit(f'perfwatch did not start under valgrind; its log: {work}/host.log')
    time.sleep(2)
    subprocess.run(['callgrind_control', '--zero', str(host.pid)], check=True)
    drive(addr)
    subprocess.run(['callgrind_control', '--dump', str(host.pid)], check=True)
    time.sleep(5)
    host.terminate()
    host.wait()
    dumped = sorted(p for p in os.listdir(work) if p.startswith('callgrind.out.'))
    names = executed_functions(os.path.join(work, dumped[0]), os.path.basename(exe))
    with open(os.path.join(HERE, 'hot-functions.txt'), 'w') as f:
        f.writelines(n + '\n' for n in names)
    print(f'{len(names)} functions written; host log in {work}/host.log')


def drive(addr):
    """An hour's pattern, shortened: history in 5-tick batches, then a
    live batch a second with a few queries every ten."""
    def post(body):
        request = urllib.request.Request(f'http://{addr}/api/v1/metrics', data=body.encode(),
                                         headers={'Content-Type': 'application/json'})
        urllib.request.urlopen(request, timeout=600).read()

    def get(path):
        try:
            urllib.request.urlopen(f'http://{addr}{path}', timeout=600).read()
        except urllib.error.HTTPError as e:
            print(f'GET {path}: {e}', file=sys.stderr)

    def batch(first_ms, ticks, index):
        return '[' + ','.join(
            '{"metric":"app.load","value":%.2f,"timestamp":%d,"labels":{"series":"s%04d"}}'
            % (math.sin((index + t) / 60 + s) * 40 + 50, first_ms + t * 1000, s)
            for t in range(ticks) for s in range(SERIES)) + ']'

    start = (int(time.time()) - HISTORY_S) * 1000
    for t in range(0, HISTORY_S, 5):
        post(batch(start + t * 1000, 5, t))
    for i in range(LIVE_S):
        post(batch(int(time.time()) * 1000, 1, HISTORY_S + i))
        if i % 10 == 0:
            end = int(time.time() * 1000)
            get(f'/api/v1/query_range?metric=app.load&labels=series%3Ds0001'
                f'&start={end - 3_600_000}&end={end}&step=60s&agg=avg')
            get(f'/api/v1/query_range?metric=app.load&labels=series%3Ds0002'
                f'&start={end - 600_000}&end={end}&step=1s&agg=max')
            get('/api/v1/series')
            get('/api/v1/query?metric=app.load&labels=series%3Ds0003')
        time.sleep(1)


def executed_functions(path, binary):
    """The binary's functions with a cost in a callgrind profile, by self
    cost, highest first (callgrind's `'N` recursion suffixes removed)."""
    objects, functions, owner, cost = {}, {}, {}, Counter()
    current_object = current = None
    after_call = False

    def named(table, spec):
        m = re.match(r'\((\d+)\)(?:\s+(.*))?', spec)
        if not m:
            return spec
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1))

    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if line.startswith('ob='):
            current_object = named(objects, line[3:])
        elif line.startswith('fn='):
            current = re.sub(r"'\d+$", '', named(functions, line[3:]) or '')
            owner[current] = current_object
            after_call = False
        elif line.startswith('cfn='):
            named(functions, line[4:])
        elif line.startswith('cob='):
            named(objects, line[4:])
        elif line.startswith('calls='):
            after_call = True  # the next cost line is the call's inclusive cost
        elif line[:1].isdigit() or line[:1] in '+-*':
            if after_call:
                after_call = False
            elif current and len(parts := line.split()) > 1:
                cost[current] += int(parts[1])
    names = []
    for name, c in cost.most_common():
        if c > 0 and (owner.get(name) or '').endswith('/' + binary) and not name.startswith('0x'):
            names.append(name)
    return names


if __name__ == '__main__':
    main()
