#!/usr/bin/env python3
"""[netns] `vipd import` in practice (issue 14): a keepalived pair's node-B keepalived.conf is
converted with the real `vipd import` and run by vipd against the original node-A keepalived
2.2.7, which keeps its own file.

Node B's keepalived.conf is what a keepalived user has: global_defs with router_id and script
security, a vrrp_script (a file test, weight -60) tracked by the instance, PASS auth on v2.
  (a) VRRPv2 (keepalived's default version), PASS authentication, 1 s adverts
  (b) VRRPv3 (global_defs vrrp_version 3), 100 ms adverts: import writes checksum = "pseudo-header"
Each: `vipd import` exits 0 and its output passes `vipd check`; keepalived A (150) is MASTER and
vipd B (100) BACKUP, and only A holds the VIP for a Master_Down_Interval of B; SIGTERM to
keepalived A -> vipd B MASTER with the VIP; keepalived A back -> it preempts, vipd B BACKUP.
Exit 0 pass, 1 fail, 77 skipped."""

import subprocess
import sys

from vipdlab import keepalived_config, require_root_or_skip, vipd_bin, wait_for
from vipdlab.vipd import Figures, hold, master_down_ms, run_test, step, wait_state

FIG = Figures("test_import_interop")
PRIO_A, PRIO_B = 150, 100


def import_config(lab, b, version: int, advert: float, case: str) -> str:
    script = lab.dir / f"{case}-b-down"
    auth = ("    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n"
            if version == 2 else "")
    text = keepalived_config(
        b, priority=PRIO_B, version=version, advert=advert,
        scripts=(f'vrrp_script chk_down {{\n    script "/usr/bin/test ! -e {script}"\n'
                 f'    interval 1\n    weight -60\n}}\n'),
        extra_instance=auth + "    track_script {\n        chk_down\n    }\n")
    if version == 2:  # keepalived's default version: leave it out, as most files do
        text = text.replace("    vrrp_version 2\n", "")
    conf = lab.dir / f"{case}-keepalived-b.conf"
    conf.write_text(text)
    r = subprocess.run([vipd_bin(), "import", str(conf)], capture_output=True, text=True,
                       timeout=30)
    print(r.stderr, end="")
    assert r.returncode == 0, f"vipd import exited {r.returncode}:\n{r.stderr}"
    out = lab.dir / f"{case}-vipd-b.toml"
    out.write_text(r.stdout)
    c = subprocess.run([vipd_bin(), "check", "-c", str(out)], capture_output=True, text=True,
                       timeout=30)
    assert c.returncode == 0, f"vipd check refused the imported file:\n{c.stderr}\n{r.stdout}"
    want = 'checksum = "pseudo-header"' if version == 3 else 'auth_pass = "s3cret"'
    assert want in r.stdout, f"import did not write {want}:\n{r.stdout}"
    assert "version = %d" % version in r.stdout, r.stdout
    return r.stdout


def run_case(lab, case: str, version: int, advert: float):
    a, b = lab.a, lab.b
    step(f"{case}: import node B's keepalived.conf, run it against keepalived on A")
    toml = import_config(lab, b, version, advert, case)
    auth = ("    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n"
            if version == 2 else "")
    ka_text = keepalived_config(a, priority=PRIO_A, version=version, advert=advert,
                                extra_instance=auth)
    ka = lab.start_keepalived(a, ka_text)
    wait_for(lambda: lab.has_vip(a), 10, "keepalived A to hold the VIP")
    vd = lab.start_vipd(b, toml)
    wait_state(b, "BACKUP", 10, vd)
    mdi = master_down_ms(PRIO_B, advert * 1000) / 1000
    hold(lambda: lab.vip_holders() == [a.label], mdi + 0.5, "only keepalived A holds the VIP")

    step(f"{case}: SIGTERM keepalived A -> vipd B takes over")
    ka.stop()
    wait_state(b, "MASTER", mdi + 3, vd)
    wait_for(lambda: lab.vip_holders() == [b.label], 3, "the VIP on vipd B only")

    step(f"{case}: keepalived A back -> it preempts, vipd B BACKUP")
    ka = lab.start_keepalived(a, ka_text)
    wait_state(b, "BACKUP", mdi + 5, vd)
    wait_for(lambda: lab.vip_holders() == [a.label], 5, "the VIP back on keepalived A only")
    FIG.text(f"{case}", "ok")
    vd.stop()
    ka.stop()
    wait_for(lambda: not lab.vip_holders(), 5, "no VIP left between cases")


def body(lab):
    run_case(lab, "v2-pass", 2, 1.0)
    run_case(lab, "v3", 3, 0.1)


if __name__ == "__main__":
    require_root_or_skip(need=("keepalived", "vipd"))
    sys.exit(run_test(body, FIG))
