#!/usr/bin/env python3
"""Shares of the exporter's CPU by stage, from a CPU profile of
BenchmarkScrapeList (BENCHMARKS.md).

    KUBIYA_BENCH_JOBS=10000 go test -run '^$' -bench ScrapeList \\
        -benchtime 200000x -cpuprofile cpu.prof -o bench.test .
    scripts/profile-shares.py bench.test cpu.prof

Each sample goes to the first stage, in the order below, that one of its
stack's frames matches, so the shares do not overlap and add up to 100%.
The in-process simulator and the benchmark's setup are left out.
"""

import re
import subprocess
import sys

STAGES = [
    ("left out: simulator, setup", r"simulator\.|newListHandler"),
    ("GC (background)", r"runtime\.gcBgMarkWorker|runtime\.bgsweep|runtime\.bgscavenge"),
    ("gzip", r"klauspost/compress/(flate|gzip)"),
    ("exposition (expfmt)", r"prometheus/common/expfmt\."),
    ("list read + JSON decode", r"kubiya\.decodeJobList|kubiya\.\(\*Client\)\.stream"),
    ("schedule cache", r"scheduleCache\)\.lookup"),
    ("series build", r"collector\.\(\*Exporter\)\.buildJobs"),
    ("gather", r"collector\.\(\*Scrape\)\.Gather|kubiya_exporter\.gatherers\.Gather"),
    ("HTTP, other", r"."),
]

UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: profile-shares.py BINARY PROFILE")
    out = subprocess.run(["go", "tool", "pprof", "-traces", sys.argv[1], sys.argv[2]],
                         capture_output=True, text=True, check=True).stdout
    totals = {name: 0.0 for name, _ in STAGES}
    for block in out.split("-----------+-")[1:]:
        lines = [l for l in block.split("\n")[1:] if l.strip()]
        if not lines:
            continue
        m = re.match(r"\s*([0-9.]+)(ns|us|µs|ms|s)\s+(.*)", lines[0])
        if not m:
            continue
        ms = float(m.group(1)) * UNITS[m.group(2)]
        stack = "\n".join([m.group(3)] + [l.strip() for l in lines[1:]])
        for name, pattern in STAGES:
            if re.search(pattern, stack):
                totals[name] += ms
                break
    left_out = STAGES[0][0]
    exporter = sum(v for k, v in totals.items() if k != left_out)
    print(f"exporter: {exporter:.0f} ms of samples ({left_out}: {totals[left_out]:.0f} ms)")
    for name, _ in STAGES[1:]:
        print(f"  {name:26s} {totals[name]:7.0f} ms {100 * totals[name] / exporter:5.1f}%")


if __name__ == "__main__":
    main()
