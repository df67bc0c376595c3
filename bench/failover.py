#!/usr/bin/env python3
"""vipd vs keepalived 2.2.7: failover benchmark on the netns lab (bench/README.md).

    sudo PYTHONPATH=pylab python3 bench/failover.py [--runs 5] [--intervals 1s,100ms,10ms]
                                   [--cases 1,2,3,4,5,6,7] [--quick] [--no-idle] [--no-scale]
                                   [--out FILE] [--no-fine-probe] [--ka-track file|script]

Same lab as tests/netns (LAB.md): A 198.18.0.11 priority 150 (master), B 198.18.0.12 priority
100, real nginx on both, client C polling http://198.18.0.100/ every 10 ms with a 0.2 s request
timeout, nodes with ip_forward = 0; beside it an open-loop probe (a request every 1 ms) for a
finer "served", an exit watcher stamping nginx master's exit (pidfd), a capture on the bridge for
the adverts. For each speaker (vipd, then keepalived) and each advert interval, each case is run
N times; the tables give min / median / max, the ratio keepalived / vipd of the medians, the
requests that failed fast and hung, where the time goes, and PASS/MISS per target.

Not a test (not under tests/, not run by ctest): it measures and prints; it never fails on a MISS.

The benchmark lives in the lab package (pylab/vipdlab/bench: cases, wire analysis, host
statistics, scale, report); this is its command line. Run from the repository root:

    sudo PYTHONPATH=pylab python3 bench/failover.py --quick
"""

import sys

try:
    from vipdlab.bench.cli import main
except ModuleNotFoundError as e:
    if e.name != "vipdlab":
        raise
    sys.exit("bench/failover.py: the lab package is not on the path: run it as "
             "PYTHONPATH=pylab python3 bench/failover.py ... (from the repository root)")

if __name__ == "__main__":
    sys.exit(main())
