#!/usr/bin/env python3
"""[netns] Route mode (issue 16) with FRR 8.4 on the node: zebra `ip import-table 198`, bgpd
`redistribute table 198`. vipd writes the kernel route; FRR's BGP table must follow it.

One node (namespace prefix rt-) runs zebra and bgpd with their own config, pid, zserv and vty
socket paths in the lab directory (-f -i -z --vty_socket -P 0; nothing touches a host daemon) and
no BGP peer: the assertion is on bgpd's own table (what it would announce) and on bgpd's zebra
debug log. Asserts:
  healthy → bgpd has 198.19.0.100/32 with MED 106 (256 - 150);
  priority 150 → 90 (file check knob -60) → MED 166, and bgpd received NO route deletion from
  zebra during the change (a delete would withdraw the VIP from BGP: add-before-delete does that);
  weight-0 check down → gone from BGP; back → MED 166 again; SIGTERM → gone. Exit 0/1/77."""

import re
import shutil
import signal
import sys
import time
from pathlib import Path

from vipdlab import Lab, require_root_or_skip, require_vipd_or_skip, run_main, wait_for

from vipdlab.route import ROUTE_VIP as VIP, route_config

FRR = Path("/usr/lib/frr")


def main() -> int:
    require_root_or_skip(need=("vipd", "curl", "vtysh"))
    require_vipd_or_skip()
    if not (FRR / "zebra").exists() or not (FRR / "bgpd").exists():
        print("skipped: FRR (zebra, bgpd) is not installed (apt-get install frr)")
        return 77
    with Lab(prefix=f"rt-{int(time.time()) % 100000}") as lab:
        a = lab.a
        frr = lab.dir / "frr-a"
        frr.mkdir()
        (frr / "zebra.conf").write_text("hostname rt-a\nip import-table 198\n")
        (frr / "bgpd.conf").write_text(
            "hostname rt-a\nlog file {}/bgpd-debug.log debugging\ndebug bgp zebra\n"
            "router bgp 65001\n bgp router-id 198.18.0.11\n no bgp ebgp-requires-policy\n"
            " address-family ipv4 unicast\n  redistribute table 198\n exit-address-family\n"
            .format(frr))
        shutil.chown(frr, "frr", "frr")
        for f in frr.iterdir():
            shutil.chown(f, "frr", "frr")
        common = ["-z", str(frr / "zserv.api"), "--vty_socket", str(frr), "-P", "0"]
        a.popen(str(FRR / "zebra"), "-f", str(frr / "zebra.conf"), "-i", str(frr / "zebra.pid"),
                *common, name="zebra@a", log=frr / "zebra.log")
        wait_for(lambda: (frr / "zserv.api").exists(), 10, "zebra's zserv socket")
        a.popen(str(FRR / "bgpd"), "-f", str(frr / "bgpd.conf"), "-i", str(frr / "bgpd.pid"),
                *common, name="bgpd@a", log=frr / "bgpd.log")
        debug = frr / "bgpd-debug.log"

        def med():
            r = a.run("vtysh", "--vty_socket", str(frr), "-c", "show bgp ipv4 unicast",
                      check=False)
            m = re.search(rf"{re.escape(VIP)}/32\s+\S+\s+(\d+)\s", r.stdout)
            return int(m.group(1)) if m else None

        def deletions() -> int:
            text = debug.read_text(errors="replace") if debug.exists() else ""
            return sum(1 for line in text.splitlines() if "Rx route DEL" in line and VIP in line)

        (lab.dir / "knob").write_text("0\n")
        (lab.dir / "maint").write_text("0\n")
        vipd = lab.start_vipd(a, route_config(lab.dir))
        try:
            wait_for(lambda: med() == 106, 15, lambda: f"bgpd to have {VIP}/32 MED 106 (has {med()})")
            print(f"healthy: bgpd has {VIP}/32 MED 106")
            before = deletions()
            for knob, want in (("-60", 166), ("0", 106), ("-60", 166)):
                (lab.dir / "knob").write_text(knob + "\n")
                wait_for(lambda: med() == want, 5, lambda: f"MED {want} (has {med()})")
            time.sleep(0.2)
            assert deletions() == before, \
                f"zebra sent bgpd {deletions() - before} route deletion(s) during priority changes"
            print("priority changes 150 -> 90 -> 150 -> 90: MED followed, 0 deletions seen by bgpd")

            (lab.dir / "maint").write_text("1\n")
            wait_for(lambda: med() is None, 5, "withdrawal from BGP on the weight-0 check")
            (lab.dir / "maint").write_text("0\n")
            wait_for(lambda: med() == 166, 5, lambda: f"MED 166 back (has {med()})")
            print("fault: withdrawn from BGP; recovery: announced again")

            vipd.signal(signal.SIGTERM)
            assert vipd.wait_exit(timeout=10) == 0, "vipd did not exit 0"
            wait_for(lambda: med() is None, 5, "withdrawal from BGP on SIGTERM")
            print("SIGTERM: withdrawn from BGP")
        except AssertionError:
            print(f"---- vipd log ----\n{vipd.log_text()[-2000:]}")
            print(f"---- bgpd debug ----\n{debug.read_text(errors='replace')[-2000:] if debug.exists() else ''}")
            raise
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
