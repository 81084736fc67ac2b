#!/usr/bin/env python3
"""Writes a large routing file for benchmarks: N prefixes in a CSV and R
rules, the shape issue 18's speed targets name (1,000,000 prefixes, 50
rules).

    benches/routing_table.py OUT_DIR [--prefixes N] [--rules R]
                             [--upstream HOST:PORT]

OUT_DIR gets routing.toml and prefixes.csv. Every group's member is the
one --upstream (default 127.0.0.1:25070, the UAS port of
../shared/bench/compare.sh), so whatever a rule picks, calls complete.
The R - 1 rules before the last never match the benchmark's requests
(scanner User-Agents, other methods' prefixes, other sources, other
headers, other domains) but are evaluated for every request; the last
rule is the prefix table. The prefixes are random dial strings of 4 to
11 digits, plus the chain +1, +15, +155, ... +1555123456, so the number
of the criterion INVITE (+15551234567) walks deep into the table.
Deterministic: the same arguments write the same files.
"""

import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--prefixes", type=int, default=1_000_000)
    ap.add_argument("--rules", type=int, default=50)
    ap.add_argument("--upstream", default="127.0.0.1:25070")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(18)
    groups = ["lcr%d" % i for i in range(8)]

    chain = ["+1555123456"[:k] for k in range(2, 12)]
    seen = set(chain)
    with open(os.path.join(a.out, "prefixes.csv"), "w") as f:
        f.write("# prefix,group\n")
        for i, p in enumerate(chain):
            f.write("%s,%s\n" % (p, groups[i % len(groups)]))
        while len(seen) < a.prefixes:
            p = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 11)))
            if p in seen:
                continue
            seen.add(p)
            f.write("%s,%s\n" % (p, groups[len(seen) % len(groups)]))

    rules = []
    kinds = [
        'match.user_agent = ["friendly-scanner-%d", "sipvicious-%d"]\naction = "drop"',
        'match.method = ["MESSAGE"]\nmatch.ruri_user_prefix = ["+49%d", "0049%d"]\nroute = "lcr1"',
        'match.source = ["10.%d.0.0/16", "2001:db8:%d::/48"]\nroute = "lcr2"',
        'match.header = { name = "X-Tenant-%d", value = "t%d" }\nroute = "lcr3"',
        'match.ruri_domain = ["tenant%d.example.com", "*.tenant%d.example.net"]\nroute = "lcr4"',
        'match.to_user = ["99%d", "98%d"]\nreject = { code = 403, reason = "Forbidden" }',
        'match.from_domain = ["blocked%d.example.org", "*.blocked%d.example.org"]\naction = "drop"',
    ]
    for i in range(a.rules - 1):
        body = kinds[i % len(kinds)].replace("%d", str(i))
        rules.append('[[rules]]\nname = "r%d"\n%s\n' % (i, body))
    rules.append('[[rules]]\nname = "lcr"\nprefix_table = "prefixes.csv"\n')

    with open(os.path.join(a.out, "routing.toml"), "w") as f:
        f.write('[routing]\ndefault = "pbx"\n\n')
        for g in ["pbx"] + groups:
            f.write('[groups.%s]\nmembers = ["%s"]\n\n' % (g, a.upstream))
        f.write("\n".join(rules))


if __name__ == "__main__":
    main()
