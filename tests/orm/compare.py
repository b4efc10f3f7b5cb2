#!/usr/bin/env python3
"""Compares two junit XML files of an application's own test suite (SQLAlchemy's, Django's): one
run against a plain MariaDB, one through the Setwise gateway. Writes a Markdown report: counts of each outcome on each side,
the differences (passed on MariaDB, failed or errored through the gateway) grouped by a
normalised error signature, and every difference with its error's first line; optionally the
differences as TSV (test id, gateway outcome, category, first line). Only the standard library.

    compare.py plain.xml[,rerun.xml...] gateway.xml[,...] --out report.md [--tsv differences.tsv]
               [--title "SQLAlchemy's suite"] [--categories categories]

--categories names the module (beside this file) whose categorize(first_line, knock_on=False)
returns (cause, issue item) for a difference.
"""

import argparse
import collections
import importlib
import re
import sys
import xml.etree.ElementTree as ET

# SQLAlchemy suffixes backend test classes with the dialect and server version
# (Foo_mariadb+pymysql_10_11_19_0): the same test on both sides must get the same id.
BACKEND_SUFFIX = re.compile(r"_(?:mariadb|mysql)\+\w+?_[0-9]+(?:_[0-9]+)*$")
# Outcome of a test: its worst element. A failure (in the test's own body) ranks above an error
# (in a fixture's setup or teardown), so a test that fails and then errors in teardown -- pytest
# puts both on one testcase -- is listed with its own failure's message.
RANK = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


def load(paths):
    """test id -> (outcome, first line of the message), from comma-separated junit files; a
    later file's result replaces an earlier one's (a re-run of some tests)."""
    out = {}
    for path in paths.split(","):
        out.update(load_one(path))
    return out


def load_one(path):
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        cls = BACKEND_SUFFIX.sub("", case.get("classname", ""))
        tid = f"{cls}::{case.get('name', '')}"
        outcome, msg = "passed", ""
        for child in case:
            kind = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if kind is None:
                continue
            text = child.get("message") or child.text or ""
            line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            if RANK[kind] > RANK[outcome]:
                outcome, msg = kind, line
        prev = out.get(tid)
        if prev is None or RANK[outcome] > RANK[prev[0]]:
            out[tid] = (outcome, msg)
    return out


def signature(msg):
    """A message with its test-specific parts blanked, to group differences of one cause."""
    s = re.sub(r"\[SQL: .*", "", msg)
    s = re.sub(r"\(Background on this error.*", "", s)
    s = re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", s)
    s = re.sub(r"0x[0-9a-f]+", "0x…", s)
    s = re.sub(r"(?<![\w(])\d+(?:\.\d+)?(?!\d)", "N", s)
    s = re.sub(r"^\(N, ", "(", s)  # keep nothing of a driver tuple but its text
    m = re.search(r"\((\d{4}), ", msg)
    code = m.group(1) if m else ""
    s = s.strip()
    if len(s) > 150:
        s = s[:150] + "…"
    return f"[{code}] {s}" if code else s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plain")
    ap.add_argument("gateway")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tsv")
    ap.add_argument("--title", default="SQLAlchemy's suite")
    ap.add_argument("--categories", default="categories")
    a = ap.parse_args()
    categorize = importlib.import_module(a.categories).categorize
    plain, gw = load(a.plain), load(a.gateway)

    def counts(d):
        c = collections.Counter(o for o, _ in d.values())
        return ", ".join(f"{k} {c[k]}" for k in ("passed", "skipped", "failed", "error")) + f" (total {len(d)})"

    diffs = sorted(
        (t, gw[t][0], gw[t][1])
        for t in plain
        if plain[t][0] == "passed" and t in gw and gw[t][0] in ("failed", "error")
    )
    skipped_only_gw = sorted(t for t in plain if plain[t][0] == "passed" and gw.get(t, ("",))[0] == "skipped")
    better_gw = sorted(t for t in plain if plain[t][0] in ("failed", "error") and gw.get(t, ("",))[0] == "passed")
    only_plain = sorted(set(plain) - set(gw))
    only_gw = sorted(set(gw) - set(plain))

    lost = {t.split("::")[0] for t, _, msg in diffs if categorize(msg)[1] == "10.2"}

    def cat(t, msg):
        return categorize(msg, t.split("::")[0] in lost)

    cats = collections.defaultdict(list)
    for t, _, msg in diffs:
        cats[cat(t, msg)].append(t)
    groups = collections.defaultdict(list)
    for t, _, msg in diffs:
        groups[signature(msg)].append(t)
    by_module = collections.Counter(t.split("::")[0].rsplit(".", 1)[0] for t, _, _ in diffs)

    lines = [
        f"# {a.title}: plain MariaDB vs. the Setwise gateway",
        "",
        f"- plain MariaDB: {counts(plain)}",
        f"- gateway:       {counts(gw)}",
        f"- **passed on MariaDB, failed/errored through the gateway: {len(diffs)}** "
        f"(failed {sum(1 for d in diffs if d[1] == 'failed')}, errored {sum(1 for d in diffs if d[1] == 'error')})",
        f"- passed on MariaDB, skipped through the gateway: {len(skipped_only_gw)}",
        f"- failed on MariaDB, passed through the gateway: {len(better_gw)}",
        f"- ran on one side only: plain {len(only_plain)}, gateway {len(only_gw)}"
        " (a side that stopped early, or a test the server version selects)",
        "",
        "## Differences by known cause (categories.py; item = issue 10's numbering)",
        "",
        "| count | cause | item | example test |",
        "|---:|---|---|---|",
    ]
    for (name, item), tests in sorted(cats.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"| {len(tests)} | {name} | {item} | {tests[0]} |")
    lines += [
        "",
        "## Differences by error signature",
        "",
        "| count | signature | example test |",
        "|---:|---|---|",
    ]
    for sig, tests in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        cell = sig.replace("|", "\\|")
        lines.append(f"| {len(tests)} | {cell} | {tests[0]} |")
    lines += ["", "## Differences by test module", "", "| count | module |", "|---:|---|"]
    for mod, n in by_module.most_common():
        lines.append(f"| {n} | {mod} |")
    lines += ["", "## Every difference", ""]
    for t, outcome, msg in diffs:
        lines.append(f"- `{t}` ({outcome}): {msg}")
    if skipped_only_gw:
        lines += ["", "## Passed on MariaDB, skipped through the gateway", ""]
        lines += [f"- `{t}`: {gw[t][1]}" for t in skipped_only_gw]
    if better_gw:
        lines += ["", "## Failed on MariaDB, passed through the gateway", ""]
        lines += [f"- `{t}`: {plain[t][1]}" for t in better_gw]
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    if a.tsv:
        with open(a.tsv, "w", encoding="utf-8") as f:
            for t, outcome, msg in diffs:
                f.write(f"{t}\t{outcome}\t{cat(t, msg)[0]}\t{msg.replace(chr(9), ' ')}\n")
    print(f"plain: {counts(plain)}")
    print(f"gateway: {counts(gw)}")
    print(f"passed on MariaDB, failed/errored through the gateway: {len(diffs)} in {len(groups)} signatures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
