#!/usr/bin/env python3
"""Pinned inputs for release builds: packaging/constraints.txt and the bundle's build manifest.

    python packaging/pins.py --check     does this environment match constraints.txt? (exit 1 if not)
    python packaging/pins.py --update    rewrite constraints.txt from this environment

``pyproject.toml`` keeps lower bounds (and known-bad exclusions) so developers get fixes;
a release is built from exactly the versions in ``constraints.txt``, which were built and
smoke-tested together: ``pip install -c packaging/constraints.txt -e '.[build]'``, then
``packaging/build --release`` refuses to build when the environment differs. The pins cover
every distribution the app and the build tool pull in (the dependency closure of
``dermarchive[build]``). Update them deliberately (``--update`` in a fresh environment after
``pip install -U -e '.[build]'``), rebuild, and let the smoke check judge.

The spec imports this module to write ``build-manifest.json`` into the bundle: the app's
version and commit, the versions of every bundled Python distribution and host library, the
build machine, and whether the build matched the constraints.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# DERMARCHIVE_CONSTRAINTS names another file (for trying a candidate set of pins).
CONSTRAINTS = Path(os.environ.get("DERMARCHIVE_CONSTRAINTS") or ROOT / "packaging" / "constraints.txt")
EXTRAS = ("build",)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: metadata.Distribution, extras: tuple[str, ...]) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None:
            names.append(req.name)
            continue
        for extra in ("",) + extras:
            if req.marker.evaluate({"extra": extra}):
                names.append(req.name)
                break
    return names


def project_requirements(extras: tuple[str, ...] = EXTRAS) -> list[str]:
    """Names of the checkout's own requirements (pyproject.toml, not a possibly stale install)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(t).name for t in texts]


def closure(extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """{canonical name: installed version} of the checkout's requirements (with ``extras``) and
    everything they pull in, as installed in this environment."""
    found: dict[str, str] = {}
    todo = [(name, ()) for name in project_requirements(extras)]
    while todo:
        name, want_extras = todo.pop()
        key = _canonical(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue   # a requirement for another platform (e.g. pywin32-ctypes) or not installed
        found[key] = dist.version
        todo += [(dep, ()) for dep in _requirements(dist, want_extras)]
    return dict(sorted(found.items()))


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    """{canonical name: pinned version} from a constraints file (``name==version`` lines)."""
    pins = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*([^\s;]+)", line)
        if not m:
            raise ValueError(f"{path.name}: not an exact pin: {line!r}")
        pins[_canonical(m.group(1))] = m.group(2)
    return pins


def differences(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """Where the installed versions differ from the pins, one sentence each (empty: they match).
    A pin for a distribution this platform does not install is not a difference."""
    out = []
    for name, version in sorted(pins.items()):
        have = installed.get(name)
        if have is None:
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue   # pinned for another platform; not needed here
        if have != version:
            out.append(f"{name} is {have}, pinned {version}")
    return out


def unpinned(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """Installed requirements without a pin (e.g. Windows-only build tools when the pins were
    written on Linux): reported, not refused."""
    return [f"{name} {installed[name]}" for name in sorted(set(installed) - set(pins))]


def write_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    installed = closure()
    lines = [
        "# Exact versions for release builds of DermArchive (packaging/pins.py; see packaging/README.md).",
        "# pip install -c packaging/constraints.txt -e '.[build]'   then   packaging/build --release",
        (f"# Written by `python packaging/pins.py --update` on {platform.system()} with Python "
         f"{platform.python_version()}; the closure of dermarchive[build] there."),
        *(f"{name}=={version}" for name, version in installed.items()),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return installed


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _os_release() -> str:
    try:
        text = Path("/etc/os-release").read_text("utf-8")
    except OSError:
        return platform.platform()
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)', text, re.MULTILINE)
    return m.group(1) if m else platform.platform()


def host_library_packages(paths: list[str]) -> dict[str, str]:
    """{library path: 'package version'} for system libraries, from dpkg where it exists."""
    if not paths or not sys.platform.startswith("linux"):
        return {}
    # dpkg knows each file under the name its package used: /lib/… or /usr/lib/… (merged /usr).
    candidates: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        for alias in {path, real, *(p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p
                                    for p in (path, real))}:
            candidates[alias] = path
    try:
        proc = subprocess.run(["dpkg", "-S", *candidates], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    owners: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        pkg, _, found = line.partition(": ")
        if found.strip() in candidates and "diversion" not in pkg:
            owners[candidates[found.strip()]] = pkg.strip()
    versions: dict[str, str] = {}
    for pkg in set(owners.values()):
        q = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=False)
        versions[pkg] = q.stdout.strip()
    return {path: f"{pkg} {versions.get(pkg, '?')}" for path, pkg in owners.items()}


def build_manifest(version: str, binaries: list, lean: dict | None = None) -> dict:
    """The bundle's build-manifest.json: what went in, at which versions, built where and how."""
    import PyInstaller

    installed = closure()
    pins = read_constraints() if CONSTRAINTS.exists() else {}
    system = sorted({src for _dest, src, _kind in binaries
                     if src.startswith(("/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/"))})
    packages = host_library_packages(system)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    return {
        "app": {"name": "DermArchive", "version": version, "commit": _git("rev-parse", "HEAD"),
                "modified_files": bool(_git("status", "--porcelain", "--untracked-files=no"))},
        "built": {"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
                  "os": _os_release(), "machine": platform.machine(),
                  "libc": " ".join(platform.libc_ver()).strip() or None,
                  "python": platform.python_version(), "pyinstaller": PyInstaller.__version__},
        "constraints": {
            "file": CONSTRAINTS.name if pins else None,
            "sha256": hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest() if pins else None,
            "differences": differences(pins, installed) if pins else ["no constraints file"],
            "unpinned": unpinned(pins, installed),
        },
        "python_packages": installed,
        "host_libraries": {Path(src).name: packages.get(src, "?") for src in system},
        "lean": lean or {},
    }


def main(argv: list[str]) -> int:
    if argv == ["--update"]:
        pinned = write_constraints()
        print(f"pins: wrote {len(pinned)} pins to {CONSTRAINTS}")
        return 0
    if argv == ["--check"]:
        pins, installed = read_constraints(), closure()
        for line in unpinned(pins, installed):
            print(f"pins: warning: not pinned: {line}", file=sys.stderr)
        diff = differences(pins, installed)
        for line in diff:
            print(f"pins: {line}", file=sys.stderr)
        if diff:
            print("pins: this environment does not match packaging/constraints.txt; run "
                  "pip install -c packaging/constraints.txt -e '.[build]'", file=sys.stderr)
            return 1
        print("pins: the environment matches packaging/constraints.txt")
        return 0
    print(__doc__.strip())
    return 0 if argv in ([], ["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
