"""SSB, TPC-H and scan benchmark of Cairn against DuckDB, DataFusion and chDB (issue 4).

Run it through e2e/bench/run.sh, which makes the venv. For each engine it loads the same
files (data.py), then runs every query once cold and twice warm, engine after engine query
by query (the starting engine rotates), keeps the faster warm run, checks every engine's
result against DuckDB's, prints a table per suite with the summed time and the geometric-mean
ratio (Cairn + 10 ms) / (peer + 10 ms) as ClickBench computes it (and, for the scan suite,
each engine's time over the time the machine takes to read as many bytes), and writes
everything as JSON under e2e/.work/bench/. Any mismatch, query error or failed load makes the
exit status 1, after all queries have run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import diff  # noqa: E402
from data import ALL_TABLES, SCAN_ROWS, ensure_data, scale_name  # noqa: E402
from engines import CLIENTS, ENGINES, THREADS, Cairn, EngineError, fresh_dir, load_engine  # noqa: E402
from queries import SUITES, load_queries, tables_for  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
WORK = REPOSITORY / "e2e" / ".work" / "bench"
REFERENCE = "duckdb"
WARM_RUNS = 2
CLICKBENCH_OFFSET_MS = 10.0
# Issue 4's target for the scan suite: at most 1.2 times the time memory takes.
SCAN_TARGET = 1.2


def say(message: str = "") -> None:
    print(message, flush=True)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1", help="TPC-H/SSB scale factor (default 1)")
    parser.add_argument("--engines", default="cairn,duckdb,datafusion,chdb",
                        help="comma-separated engines; duckdb is always run as the reference")
    parser.add_argument("--queries", default="",
                        help="comma-separated suites or globs on query ids, e.g. "
                             "'ssb-flat,tpch/q0*,micro/count' (default: all)")
    parser.add_argument("--work-dir", type=Path, default=WORK,
                        help="engines' storage and the JSON results (default e2e/.work/bench)")
    parser.add_argument("--load-chunk-mb", type=int, default=256,
                        help="bytes of CSV per Stream Load into Cairn (default 256 MiB)")
    parser.add_argument("--query-timeout", type=int, default=1800,
                        help="seconds a Cairn query may take over MySQL (default 1800)")
    parser.add_argument("--client", default="mysqlclient", choices=CLIENTS,
                        help="the Python MySQL driver Cairn's queries go through (default "
                             "mysqlclient, in C like the peers' in-process fetch; pymysql "
                             "decodes rows in Python)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the engines' storage under --work-dir after the run")
    return parser.parse_args(argv)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine() -> dict:
    """Where a result was measured, for the JSON of every benchmark."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def save_results(document: dict, output: Path, latest: Path) -> None:
    """Writes a benchmark's JSON under its own name and as the latest of its kind."""
    text = json.dumps(document, indent=1, default=str) + "\n"
    output.write_text(text)
    latest.write_text(text)
    say(f"\nresults: {output}")


def report_failures(failures: list[str]) -> bool:
    """Prints the failures, if any; returns whether there were."""
    if failures:
        say(f"\nFAILED: {len(failures)} problem(s):")
        for failure in failures:
            say(f"  {failure}")
    return bool(failures)


def clickbench_ratio(reference_ms: float, peer_ms: float) -> float:
    return (reference_ms + CLICKBENCH_OFFSET_MS) / (peer_ms + CLICKBENCH_OFFSET_MS)


def geometric_mean(values: list[float]) -> float | None:
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def format_ms(result: dict | None) -> str:
    if result is None:
        return "-"
    if result["status"] == "error":
        return "ERROR"
    text = f"{result['best_ms']:.1f}"
    return text + ("!" if result["status"] == "mismatch" else "")


class MemoryRead:
    """How fast the machine's cores read memory, the floor under a scan query's SUM: each of
    THREADS threads sums its share of `values` int64s (as many bytes as the SUM reads) with
    Arrow C++'s SIMD sum, which keeps up with memory on this machine (one thread alone reads
    26-30 GB/s).

    The read is timed beside each run of each engine's scan query, just before it, because
    this machine's memory bandwidth drifts from minute to minute (28-53 GB/s within one
    session): one read before all the engines' runs set Cairn's 25-35 ms against a moment
    that could be faster or slower than its own."""

    METHOD = ("pyarrow.compute.sum over int64, one share per thread, read just before each "
              "run of the engine's query; the faster of the reads before its warm runs")

    def __init__(self, values: int):
        from concurrent.futures import ThreadPoolExecutor

        import numpy
        import pyarrow

        self.values = values
        array = pyarrow.array(numpy.arange(values, dtype=numpy.int64))
        share = -(-values // THREADS)
        self.parts = [array.slice(start, share) for start in range(0, values, share)]
        self.expected = values * (values - 1) // 2
        self.pool = ThreadPoolExecutor(len(self.parts))

    def time_ms(self) -> float:
        import pyarrow.compute

        started = time.perf_counter()
        total = sum(part_sum.as_py() for part_sum in self.pool.map(pyarrow.compute.sum, self.parts))
        elapsed_ms = (time.perf_counter() - started) * 1000
        if total != self.expected:
            raise RuntimeError(f"the memory measurement summed {total}, not {self.expected}")
        return elapsed_ms

    def summary(self, runs_ms: list[float]) -> dict:
        """The reads beside one engine's runs, the first beside its cold run."""
        best_ms = min(runs_ms[1:])
        return {"bytes": self.values * 8, "threads": len(self.parts),
                "cold_ms": round(runs_ms[0], 3), "warm_ms": [round(ms, 3) for ms in runs_ms[1:]],
                "best_ms": round(best_ms, 3), "gb_per_s": round(self.values * 8 / best_ms / 1e6, 2),
                "method": self.METHOD}


def print_scan_against_memory(records, engines) -> None:
    """Each engine's time for a scan query over the time the machine took to read as many
    bytes beside that engine's runs."""
    scan_records = [r for r in records if r["suite"] == "scan"]
    if not scan_records:
        return
    width = max(12, max(len(r["name"]) for r in scan_records) + 2)
    say(f"time over memory's (target: at most {SCAN_TARGET}); memory: {MemoryRead.METHOD}")
    say(f"{'query':<{width}}" + "".join(f"{e:>22}" for e in engines))
    for record in scan_records:
        cells = []
        for engine in engines:
            result = record["results"].get(engine)
            if result is None or result["status"] != "ok" or "memory" not in result:
                cells.append(f"{format_ms(result):>22}")
            else:
                memory = result["memory"]
                ratio = result["best_ms"] / memory["best_ms"]
                result["memory_ratio"] = round(ratio, 3)
                cells.append(f"{ratio:>8.2f} ({memory['best_ms']:.1f} ms, {memory['gb_per_s']:.0f} GB/s)")
        say(f"{record['name']:<{width}}" + "".join(cells))


def run_query(engine, query, memory: MemoryRead | None = None) -> dict:
    """One cold and WARM_RUNS warm runs; an error stops the runs of this query. With
    `memory`, a memory read is timed just before each run."""
    sql = query.text_for(engine.name)
    result = {"status": "ok", "cold_ms": None, "warm_ms": [], "best_ms": None, "rows": None}
    memory_ms = []

    def timed_query():
        if memory is not None:
            memory_ms.append(memory.time_ms())
        return engine.timed_query(query.database, sql)

    try:
        seconds, rows = timed_query()
        result["cold_ms"] = round(seconds * 1000, 3)
        for _ in range(WARM_RUNS):
            seconds, _ = timed_query()
            result["warm_ms"].append(round(seconds * 1000, 3))
        result["best_ms"] = min(result["warm_ms"])
        result["rows"] = len(rows)
        result["_rows"] = rows
        if memory is not None:
            result["memory"] = memory.summary(memory_ms)
    except Exception as error:  # a query error is a result, not the end of the run
        result["status"] = "error"
        message = f"{type(error).__name__}: {error}"
        result["error"] = message if len(message) < 4000 else message[:4000] + " ..."
    return result


def summarise(records, engines, suite, reference):
    """Per engine: summed best warm time, and the geometric-mean ClickBench ratio of the
    reference engine against it (over the queries both ran correctly)."""
    suite_records = [r for r in records if r["suite"] == suite]
    summary = {}
    for engine in engines:
        ok = [r for r in suite_records if r["results"].get(engine, {}).get("status") == "ok"]
        ratios = []
        for record in ok:
            ref = record["results"].get(reference, {})
            if ref.get("status") == "ok":
                ratios.append(clickbench_ratio(ref["best_ms"], record["results"][engine]["best_ms"]))
        summary[engine] = {
            "queries": len(suite_records),
            "ok": len(ok),
            "sum_ms": round(sum(r["results"][engine]["best_ms"] for r in ok), 1),
            "sum_cold_ms": round(sum(r["results"][engine]["cold_ms"] for r in ok), 1),
            f"geomean_ratio_{reference}_vs_engine": (
                round(geometric_mean(ratios), 3) if ratios else None),
            "ratio_queries": len(ratios),
        }
    # Against the fastest peer of each query.
    peers = [e for e in engines if e != reference]
    best_ratios = []
    for record in suite_records:
        ref = record["results"].get(reference, {})
        peer_times = [record["results"][p]["best_ms"] for p in peers
                      if record["results"].get(p, {}).get("status") == "ok"]
        if ref.get("status") == "ok" and peer_times:
            best_ratios.append(clickbench_ratio(ref["best_ms"], min(peer_times)))
    summary["_best_peer_per_query"] = {
        f"geomean_ratio_{reference}_vs_best": (
            round(geometric_mean(best_ratios), 3) if best_ratios else None),
        "ratio_queries": len(best_ratios),
    }
    return summary


def print_suite(records, engines, suite, summary, reference) -> None:
    suite_records = [r for r in records if r["suite"] == suite]
    if not suite_records:
        return
    width = max(12, max(len(r["name"]) for r in suite_records) + 2)
    say()
    say(f"== {suite}: best warm run in ms ('!' = result differs from DuckDB) ==")
    say(f"{'query':<{width}}" + "".join(f"{e:>12}" for e in engines))
    for record in suite_records:
        say(f"{record['name']:<{width}}"
            + "".join(f"{format_ms(record['results'].get(e)):>12}" for e in engines))
    say(f"{'sum':<{width}}" + "".join(
        f"{summary[e]['sum_ms']:>12.1f}" if summary[e]["ok"] == summary[e]["queries"]
        else f"{str(summary[e]['sum_ms']) + '*':>12}" for e in engines))
    key = f"geomean_ratio_{reference}_vs_engine"
    say(f"{'ratio':<{width}}" + "".join(
        f"{summary[e][key]:>12.3f}" if summary[e][key] is not None else f"{'-':>12}"
        for e in engines))
    best = summary["_best_peer_per_query"][f"geomean_ratio_{reference}_vs_best"]
    say(f"ratio = geometric mean of ({reference} + 10 ms) / (engine + 10 ms); "
        f"{reference} vs the best peer of each query: "
        + (f"{best:.3f}" if best is not None else "-")
        + ("   (* = sum over the queries that ran correctly)"
           if any(summary[e]["ok"] != summary[e]["queries"] for e in engines) else ""))


def main(argv=None) -> int:
    args = parse_arguments(argv if argv is not None else sys.argv[1:])
    scale = scale_name(args.scale)
    engine_names = [e.strip() for e in args.engines.split(",") if e.strip()]
    for name in engine_names:
        if name not in ENGINES:
            raise SystemExit(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    if REFERENCE not in engine_names:
        say(f"note: adding {REFERENCE}, the reference every result is checked against")
        engine_names.append(REFERENCE)
    engine_names = list(dict.fromkeys(engine_names))
    reference_for_ratios = "cairn" if "cairn" in engine_names else REFERENCE
    patterns = [p.strip() for p in args.queries.split(",") if p.strip()]
    queries = load_queries(patterns or None)
    if not queries:
        raise SystemExit(f"no query matches {args.queries!r}")

    started_at = datetime.datetime.now(datetime.timezone.utc)
    say(f"benchmark SF{scale}: {len(queries)} queries, engines {', '.join(engine_names)}")
    needed = tables_for(queries)
    dataset = ensure_data(scale, datasets=tuple(sorted({d for d, _ in needed})))
    tables = [ALL_TABLES[key] for key in sorted(needed)]
    # Big tables last in each engine's load, small dimensions first.
    tables.sort(key=lambda t: dataset.rows[(t.dataset, t.name)])

    work = args.work_dir / f"sf{scale}"
    failures: list[str] = []
    engines = {}
    loads = {}
    for name in engine_names:
        engine_dir = fresh_dir(work / name)
        if name == "cairn":
            engine = Cairn(engine_dir, chunk_bytes=args.load_chunk_mb << 20,
                           query_timeout=args.query_timeout, client=args.client)
        else:
            engine = ENGINES[name](engine_dir)
        say(f"[{name}] starting and loading {len(tables)} tables ...")
        try:
            engine.start()
            loads[name] = load_engine(engine, tables, dataset)
            loads[name]["version"] = str(engine.version)
            if name == "cairn":
                loads[name]["binary"] = str(engine.binary)
                loads[name]["client"] = args.client
                loads[name]["stream_loads"] = engine.load_stats
            engines[name] = engine
            say(f"[{name}] loaded in {loads[name]['seconds']:.1f}s, "
                f"{loads[name]['size_bytes'] / 1e6:.1f} MB on disk"
                + (f"; queries through {args.client}" if name == "cairn" else ""))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            if not isinstance(error, EngineError):
                message += "\n" + traceback.format_exc()
            say(f"[{name}] FAILED to start or load:\n{message}")
            failures.append(f"{name}: load failed: {message.splitlines()[0]}")
            loads[name] = {"error": message}
            engine.close()
    if REFERENCE not in engines:
        for engine in engines.values():
            engine.close()
        say("the reference engine did not load; nothing to compare against")
        return 1

    for name, engine in engines.items():
        started = time.monotonic()
        engine.settle()
        loads[name]["settle_seconds"] = round(time.monotonic() - started, 3)
        say(f"[{name}] background work after the load settled in "
            f"{loads[name]['settle_seconds']:.1f}s")

    order = [n for n in engine_names if n in engines]
    records = []
    memory = None
    for index, query in enumerate(queries):
        if query.suite == "scan" and memory is None:
            memory = MemoryRead(SCAN_ROWS)
        rotation = order[index % len(order):] + order[: index % len(order)]
        results = {}
        for name in rotation:
            results[name] = run_query(engines[name], query, memory if query.suite == "scan" else None)
        reference = results[REFERENCE]
        for name, result in results.items():
            if result["status"] == "error":
                failures.append(f"{query.id} {name}: {result['error'].splitlines()[0]}")
            elif name != REFERENCE and reference["status"] == "ok":
                difference = diff(reference["_rows"], result["_rows"], REFERENCE, name)
                if difference:
                    result["status"] = "mismatch"
                    result["diff"] = difference
                    failures.append(f"{query.id} {name}: result differs from {REFERENCE}")
        line = f"{query.id:<30}" + "".join(
            f"{name}={format_ms(results.get(name)):<10}" for name in order)
        if query.suite == "scan":
            line += "memory=" + "/".join(
                f"{results[name]['memory']['best_ms']:.1f}" for name in order if "memory" in results[name])
        say(line)
        for name in order:
            result = results[name]
            if result["status"] == "error":
                say(f"    {name} ERROR: {result['error']}")
            elif result["status"] == "mismatch":
                say(f"    {name} MISMATCH:\n" + "\n".join(
                    "      " + l for l in result["diff"].splitlines()))
        for result in results.values():
            result.pop("_rows", None)
        records.append({"id": query.id, "suite": query.suite, "name": query.name, "results": results})

    for engine in engines.values():
        engine.close()
    if not args.keep:
        for name in engine_names:
            shutil.rmtree(work / name, ignore_errors=True)
        try:
            work.rmdir()
        except OSError:
            pass

    summaries = {}
    for suite in SUITES:
        if any(r["suite"] == suite for r in records):
            summaries[suite] = summarise(records, order, suite, reference_for_ratios)
            print_suite(records, order, suite, summaries[suite], reference_for_ratios)
    print_scan_against_memory(records, order)

    say()
    say("== load ==")
    say(f"{'engine':<12}{'seconds':>10}{'MB on disk':>12}")
    for name in engine_names:
        load = loads.get(name, {})
        if "error" in load:
            say(f"{name:<12}{'FAILED':>10}")
        else:
            say(f"{name:<12}{load['seconds']:>10.1f}{load['size_bytes'] / 1e6:>12.1f}")

    args.work_dir.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    output = args.work_dir / f"results-sf{scale}-{stamp}.json"
    document = {
        "scale": scale,
        "started": started_at.isoformat(),
        "command": [sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
        "commit": git_commit(),
        "machine": machine(),
        "method": {"cold_runs": 1, "warm_runs": WARM_RUNS, "best": "fastest warm run",
                   "ratio": f"({reference_for_ratios} + 10 ms) / (engine + 10 ms), geometric mean",
                   "reference_for_correctness": REFERENCE},
        "engines": loads,
        "queries": records,
        "summary": summaries,
        "failures": failures,
    }
    save_results(document, output, args.work_dir / "latest.json")

    if report_failures(failures):
        return 1
    say("all results match DuckDB's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
