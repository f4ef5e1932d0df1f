"""Paired A/B of two Cairn builds on the same benchmark data: the tool behind the per-change
figures of issue 4's notes.

Why: a benchmark run times each query three times, minutes apart, and the machine drifts by
more than most single changes are worth (the same binary has summed 321 and 395 ms in two
runs). Here two `cairn allin1` servers run side by side, one per build, each on its own copy
of a data directory that `run.sh --keep` left behind. Every round runs each query once on
both, the first server alternating, and the report gives per query the best and the median
wall time on each, and the servers' CPU per round (user + system, from /proc/PID/stat).

    e2e/bench/run.sh --scale 1 --queries ssb,tpch --engines cairn --keep --work-dir /tmp/w
    python e2e/bench/compare_builds.py --data /tmp/w/sf1/cairn/data \\
        --a /tmp/cairn-before --b /tmp/cairn-after --rounds 8 tpch ssb/q2.1

A query argument is a suite or a glob on query ids, as `bench.py --queries` takes them.
`--data-b` gives B its own data (say, the same rows partitioned differently); without it both
copy `--data`. A and B must return the same rows, compared as the benchmark compares engines (compare.py).
The first round only warms caches: best, median and CPU come from the rounds after it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from compare import diff
from engines import Cairn, EngineError
from queries import load_queries

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name, field 2, is in parentheses and may hold spaces.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="the first cairn binary")
    parser.add_argument("--b", type=Path, required=True, help="the second cairn binary")
    parser.add_argument("--data", type=Path, required=True,
                        help="a Cairn data directory (run.sh --keep: <work>/sf1/cairn/data)")
    parser.add_argument("--data-b", type=Path, help="B's data directory (default: --data)")
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds, the first of which only warms caches (default 8)")
    parser.add_argument("--work-dir", type=Path,
                        help="where the two copies go (default: a temporary directory)")
    parser.add_argument("queries", nargs="+", help="suites or globs, e.g. tpch 'ssb/q2.*'")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_arguments(argv)
    queries = load_queries(args.queries)
    if not queries:
        print(f"no query matches {args.queries}", file=sys.stderr)
        return 2
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="cairn-compare-"))
    servers = {}
    try:
        for label, binary, data in (("A", args.a, args.data), ("B", args.b, args.data_b or args.data)):
            if not data.is_dir() or not any(data.iterdir()):
                raise EngineError(f"{data} holds no Cairn data")
            directory = work / label
            shutil.rmtree(directory, ignore_errors=True)
            shutil.copytree(data, directory / "data", symlinks=True)
            server = Cairn(directory, binary=binary.resolve(), client="mysqlclient")
            server.start()
            servers[label] = server
        times = {(label, query.id): [] for label in servers for query in queries}
        cpu_per_round = {label: [] for label in servers}
        for round_number in range(args.rounds):
            cpu_before = {label: cpu_seconds(server.process.pid) for label, server in servers.items()}
            for index, query in enumerate(queries):
                order = ["A", "B"] if (round_number + index) % 2 == 0 else ["B", "A"]
                results = {}
                for label in order:
                    seconds, rows = servers[label].timed_query(query.database, query.text_for("cairn"))
                    # The first round warms caches and is left out, unless it is the only one.
                    if round_number > 0 or args.rounds == 1:
                        times[(label, query.id)].append(seconds * 1000)
                    results[label] = rows
                difference = round_number == 0 and diff(results["A"], results["B"], "A", "B")
                if difference:
                    print(f"{query.id}: the builds' results differ\n{difference}", file=sys.stderr)
                    return 1
            for label, server in servers.items():
                cpu_per_round[label].append(cpu_seconds(server.process.pid) - cpu_before[label])
        print(f"{'query':<14}{'A best':>9}{'B best':>9}{'A median':>10}{'B median':>10}{'B/A':>7}")
        totals = {"A best": 0.0, "B best": 0.0, "A median": 0.0, "B median": 0.0}
        for query in queries:
            a, b = times[("A", query.id)], times[("B", query.id)]
            row = {"A best": min(a), "B best": min(b),
                   "A median": statistics.median(a), "B median": statistics.median(b)}
            for key, value in row.items():
                totals[key] += value
            print(f"{query.id:<14}{row['A best']:>9.1f}{row['B best']:>9.1f}"
                  f"{row['A median']:>10.1f}{row['B median']:>10.1f}"
                  f"{row['B median'] / row['A median']:>7.3f}")
        print(f"{'total':<14}{totals['A best']:>9.1f}{totals['B best']:>9.1f}"
              f"{totals['A median']:>10.1f}{totals['B median']:>10.1f}"
              f"{totals['B median'] / totals['A median']:>7.3f}")
        for label in servers:
            warm = cpu_per_round[label][1:] or cpu_per_round[label]
            print(f"CPU per round, {label}: {1000 * statistics.median(warm):.0f} ms (median of "
                  f"{len(warm)}), binary {servers[label].binary}")
        return 0
    finally:
        for server in servers.values():
            server.close()
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
