#!/usr/bin/env python3
"""[netns] The .deb: built with CPack, installed into a clean Debian 12 chroot, run there.

Builds vipd (Release, no tests) in <repo>/build-package (kept between runs: incremental), runs
`cpack -G DEB`, unpacks a debootstrap --variant=minbase bookworm root (the tarball
tools/podman-setup.sh makes in /var/cache/vipd-podman, made here if missing), then inside it
(chroot in a private mount namespace, so no mount outlives the test):
  dpkg -i vipd.deb; apt-get -f install   -> the dependencies come from the mirror (shlibdeps)
  vipd version; vipd check -c /etc/vipd/vipd.toml (as root and as the vipd user)
and checks the layout (unit, conffile, man pages, user), then purges the package.
The chroot is removed at the end, also on failure. Exit 0 pass, 1 fail, 77 skipped."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SRC = os.environ.get("VIPD_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("VIPD_PACKAGE_BUILD") or os.path.join(SRC, "build-package")
CACHE = os.environ.get("VIPD_ROOTFS_CACHE") or "/var/cache/vipd-podman"
TARBALL = os.path.join(CACHE, "debian-bookworm-minbase.tar")
T_START = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


def skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(77)


def run(*argv, timeout=900, cwd=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout[-3000:]}\n"
                             f"{r.stderr[-3000:]}")
    return r


def mirror() -> str:
    """The bookworm mirror URI from apt's own sources (as tools/podman-setup.sh does)."""
    try:
        stanzas = open("/etc/apt/sources.list.d/debian.sources").read().split("\n\n")
    except OSError:
        stanzas = []
    for st in stanzas:
        fields = dict(l.split(":", 1) for l in st.splitlines() if ":" in l and not l.startswith("#"))
        if "bookworm" in fields.get("Suites", "").split() and fields.get("URIs"):
            return fields["URIs"].split()[0]
    return "http://deb.debian.org/debian"


def ensure_rootfs_tarball() -> None:
    if os.path.getsize(TARBALL) if os.path.exists(TARBALL) else 0:
        return
    if not shutil.which("debootstrap"):
        skip("debootstrap is not installed (tools/install-deps.sh installs it)")
    log(f"debootstrap --variant=minbase bookworm (no cached {TARBALL})")
    os.makedirs(CACHE, exist_ok=True)
    root = tempfile.mkdtemp(prefix="rootfs.", dir=CACHE)
    os.chmod(root, 0o755)
    try:
        r = run("debootstrap", "--variant=minbase", "bookworm", root, mirror(), check=False,
                timeout=600)
        if r.returncode != 0:
            skip(f"debootstrap failed (no mirror?): {r.stderr.strip()[-300:]}")
        for p in glob.glob(f"{root}/var/cache/apt/archives/*.deb") + glob.glob(f"{root}/var/lib/apt/lists/*"):
            if os.path.isfile(p):
                os.remove(p)
        for p in ("etc/resolv.conf", "etc/apt/sources.list"):
            if os.path.lexists(os.path.join(root, p)):
                os.remove(os.path.join(root, p))
        os.makedirs(f"{root}/etc/apt/sources.list.d", exist_ok=True)
        if os.path.exists("/etc/apt/sources.list.d/debian.sources"):
            shutil.copy("/etc/apt/sources.list.d/debian.sources", f"{root}/etc/apt/sources.list.d/")
        run("tar", "-C", root, "-cf", TARBALL + ".tmp", ".")
        os.replace(TARBALL + ".tmp", TARBALL)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build_deb() -> str:
    t = time.monotonic()
    run("cmake", "-S", SRC, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG", "-DVIPD_BUILD_TESTS=OFF",
        "-DCMAKE_INSTALL_PREFIX=/usr")
    run("cmake", "--build", BUILD, "-j", str(os.cpu_count() or 2))
    for old in glob.glob(os.path.join(BUILD, "vipd_*.deb")):
        os.remove(old)
    run("cpack", "-G", "DEB", cwd=BUILD)
    debs = glob.glob(os.path.join(BUILD, "vipd_*.deb"))
    assert len(debs) == 1, f"cpack made {debs}, want one vipd_*.deb"
    log(f"built {os.path.basename(debs[0])} ({os.path.getsize(debs[0]) // 1024} KiB, "
        f"{time.monotonic() - t:.1f}s)")
    info = run("dpkg-deb", "-I", debs[0]).stdout
    depends = next((l for l in info.splitlines() if l.strip().startswith("Depends:")), "")
    print(f"  {depends.strip()}")
    for lib in ("libcpp-httplib0.11", "libprometheus-cpp-core1.0", "libfmt9"):
        assert lib in depends, f"shlibdeps: {lib} missing from {depends!r}"
    # Linked in (CMakeLists.txt, docs/performance.md "Idle memory"): libnl, toml++, spdlog; and
    # sd_notify is spoken directly (agent/app/sd_notify.cpp): no libsystemd.
    for lib in ("libnl", "libtomlplusplus", "libspdlog", "libsystemd"):
        assert lib not in depends, f"vipd should not depend on {lib}: {depends!r}"
    return debs[0]


IN_CHROOT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
apt-get update -q >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
echo "== dpkg -i (dependencies missing: expected to leave it unconfigured)"
dpkg -i /tmp/vipd.deb >/tmp/dpkg.log 2>&1 || true
echo "== apt-get -f install"
apt-get -f install -y -q --no-install-recommends >/tmp/apt-f.log 2>&1 || { tail -30 /tmp/apt-f.log; exit 1; }
dpkg-query -W -f='${Status} ${Version}\n' vipd
echo "== vipd version"; vipd version
echo "== vipd check -c /etc/vipd/vipd.toml (root)"; vipd check -c /etc/vipd/vipd.toml
echo "== vipd check as the vipd user"
setpriv --reuid=vipd --regid=vipd --init-groups vipd check -c /etc/vipd/vipd.toml
echo "== layout"
getent passwd vipd
stat -c '%U:%G %a %n' /etc/vipd/vipd.toml /var/lib/vipd
dpkg-query -W -f='conffiles:${Conffiles}\n' vipd
for f in /usr/sbin/vipd /lib/systemd/system/vipd.service /usr/share/man/man8/vipd.8.gz \
         /usr/share/man/man5/vipd.toml.5.gz /usr/share/doc/vipd/examples/vipd.toml; do
  test -f "$f" || { echo "missing $f"; exit 1; }
done
if ldd /usr/sbin/vipd | grep -q 'not found'; then ldd /usr/sbin/vipd; exit 1; fi
echo "== dpkg --purge"
dpkg --purge vipd >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
test ! -e /usr/sbin/vipd && test ! -e /etc/vipd/vipd.toml
echo "chroot: all good"
"""


def main() -> int:
    if os.geteuid() != 0:
        skip("needs root (chroot, dpkg in a chroot)")
    for tool in ("cmake", "cpack", "dpkg-deb", "dpkg-shlibdeps", "unshare", "tar"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed (tools/install-deps.sh)")
    ensure_rootfs_tarball()
    deb = build_deb()
    work = tempfile.mkdtemp(prefix="vipd-pkg-")
    try:
        root = os.path.join(work, "root")
        os.makedirs(root)
        t = time.monotonic()
        run("tar", "-C", root, "-xf", TARBALL)
        os.chmod(root, 0o755)  # "/" of the chroot: non-root users must traverse it
        shutil.copy(deb, os.path.join(root, "tmp", "vipd.deb"))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
        script = os.path.join(root, "tmp", "in-chroot.sh")
        with open(script, "w") as f:
            f.write(IN_CHROOT)
        # A private mount namespace: /proc and /dev for dpkg and apt vanish with it.
        r = run("unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
                f'mount -t proc proc "{root}/proc" && mount --rbind /dev "{root}/dev" && '
                f'exec chroot "{root}" /bin/sh /tmp/in-chroot.sh', check=False, timeout=600)
        print(r.stdout.rstrip())
        if r.returncode != 0:
            print(r.stderr[-3000:])
            raise AssertionError(f"installing or running the .deb in the chroot failed (exit {r.returncode})")
        out = r.stdout
        assert "install ok installed" in out, "vipd is not 'install ok installed' after apt-get -f install"
        assert "the configuration is valid" in out, "vipd check did not accept the shipped config"
        assert "conffiles: /etc/vipd/vipd.toml " in out, "/etc/vipd/vipd.toml is not a conffile"
        log(f"installed and ran in a clean bookworm chroot ({time.monotonic() - t:.1f}s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"test_package: passed in {time.monotonic() - T_START:.1f}s")
    return 0


def _on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


if __name__ == "__main__":
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        print(f"test_package: failed after {time.monotonic() - T_START:.1f}s")
        sys.exit(1)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
