"""``python3 -m vipdlab --teardown [PREFIX]`` / ``--list``: the labs left on this machine."""

from __future__ import annotations

import argparse
import json

from vipdlab.netns import STATE_DIR, teardown
from vipdlab.processes import _pid_alive


def main() -> int:
    ap = argparse.ArgumentParser(description="vipd network-namespace lab")
    ap.add_argument("--teardown", nargs="?", const="", metavar="PREFIX",
                    help="remove a kept lab (or all kept/stale labs)")
    ap.add_argument("--list", action="store_true", help="list kept/running labs")
    args = ap.parse_args()
    if args.list:
        for f in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.exists() else []:
            st = json.loads(f.read_text())
            print(f"{st['prefix']}: keep={st['keep']} owner={st['owner']} "
                  f"alive={_pid_alive(st['owner'])} ns={' '.join(st['namespaces'])}")
    elif args.teardown is not None:
        teardown(args.teardown or None)
    else:
        ap.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
