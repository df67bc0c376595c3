#!/usr/bin/env python3
"""Docs lint (issue 14): README's first commands run as written (no sudo, executable scripts in the
repo), no paragraph appears twice in README, and every relative link or cited *.md file in README,
docs/ and the man pages names a file that exists in the repo."""
import os
import re
import sys

ROOT = os.environ.get("VIPD_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
problems = []

readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
block = re.search(r"```sh\n(.*?)```", readme, re.S)
if not block:
    problems.append("README.md: no ```sh block with the first commands")
else:
    for line in block.group(1).splitlines():
        cmd = line.split("#", 1)[0].split()
        if not cmd:
            continue
        if cmd[0] == "sudo":
            problems.append(f"README.md: '{line.strip()}' starts with sudo (a root-only Debian has none)")
            continue
        path = os.path.join(ROOT, cmd[0])
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problems.append(f"README.md: '{cmd[0]}' is not an executable file in the repo")

paras = [p.strip() for p in re.split(r"\n\s*\n", readme) if len(p.strip()) > 80]
seen = set()
for p in paras:
    if p in seen:
        problems.append(f"README.md: paragraph appears twice: {p[:60]!r}...")
    seen.add(p)

# Relative markdown links, and bare mentions of Something.md, must resolve inside the repo.
files = [os.path.join(ROOT, "README.md")]
for d in ("docs", "packaging"):
    for dirpath, _, names in os.walk(os.path.join(ROOT, d)):
        files += [os.path.join(dirpath, n) for n in names if n.endswith((".md", ".5", ".8"))]
for f in files:
    text = open(f, encoding="utf-8").read()
    base = os.path.dirname(f)
    rel = os.path.relpath(f, ROOT)
    for m in re.finditer(r"\]\(([^)#\s]+)(#[^)]*)?\)", text):
        target = m.group(1)
        if re.match(r"^[a-z]+:", target):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(base, target))):
            problems.append(f"{rel}: link to {target}, which is not in the repo")
    for m in re.finditer(r"(?<![\w/.-])([A-Z][A-Z0-9-]+\.md)\b", text):
        name = m.group(1)
        if name in ("README.md",):
            continue
        candidates = [os.path.join(base, name), os.path.join(ROOT, name),
                      os.path.join(ROOT, "docs", name)]
        if not any(os.path.exists(c) for c in candidates):
            problems.append(f"{rel}: cites {name}, which is not in the repo")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"docs ok: {len(files)} files checked")
