#!/usr/bin/env bash
# CI (issues 9 and 23): build the installable bundle from the pinned versions and smoke-test it,
# within a time budget; pack the tarball with SHA256SUMS; install it as a clinic would,
# run it, uninstall it and check the prefix is as it was.
# Runs after the test suite, which created .venv (README's test command). PyInstaller is a build
# tool, so it comes from the `build` extra, not the runtime or test dependencies; a release uses
# exactly packaging/constraints.txt.
# Measured on the 2-core machine shared with other work: build 45-90 s (with stripping; OpenCV
# made it slower), smoke check 80-100 s (most of it the full demo archive: 10 patients, 367
# photos; xcb, wayland and no-LANG starts add ~15 s), tarball 15-25 s, install round trip ~10 s:
# about 4 minutes in all. A machine loaded 4x makes it ~3x.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${PACKAGING_BUDGET:-900}   # seconds for build + smoke together

# shellcheck disable=SC1091
. .venv/bin/activate
pip_log=$(mktemp)
pip install -q -c packaging/constraints.txt -e '.[build]' >"$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"

start=$(date +%s)
timeout --kill-after=30 "$BUDGET" packaging/build --release
# The release tarball and its checksums (signed when DERMARCHIVE_SIGNING_KEY is configured).
packaging/linux/tarball
(cd dist && sha256sum -c --quiet SHA256SUMS)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" -xzf dist/DermArchive-*-linux-*.tar.gz
unpacked=$(echo "$stage"/DermArchive-*)

# A distribution-package style staged install: the installed desktop files validate.
"$unpacked/install" --prefix /opt/dermarchive --destdir "$stage/staged"
version=$("$stage/staged/opt/dermarchive/bin/dermarchive" --version)
desktop-file-validate "$stage/staged/opt/dermarchive/share/applications/nz.dermarchive.DermArchive.desktop"
appstreamcli validate --no-net "$stage/staged/opt/dermarchive/share/metainfo/nz.dermarchive.DermArchive.metainfo.xml"

# install -> run -> uninstall into a prefix that already holds something: as it was afterwards.
prefix="$stage/prefix"
mkdir -p "$prefix/share/applications" "$prefix/bin"
printf '[Desktop Entry]\nType=Application\nName=Other\nExec=other\n' > "$prefix/share/applications/org.example.Other.desktop"
(cd "$prefix" && find . | sort) > "$stage/before"
"$unpacked/install" --prefix "$prefix"
"$prefix/bin/dermarchive" --version >/dev/null
QT_QPA_PLATFORM=offscreen "$prefix/bin/dermarchive" --bundle-self-test >/dev/null
"$prefix/lib/dermarchive/uninstall"
(cd "$prefix" && find . | sort) > "$stage/after"
diff -u "$stage/before" "$stage/after" || { echo "after-packaging: uninstall left the prefix changed" >&2; exit 1; }

bundle_mb=$(( $(du -sb dist/DermArchive | cut -f1) / 1000000 ))
tar_mb=$(( $(stat -c %s dist/DermArchive-*-linux-*.tar.gz) / 1000000 ))
echo "after-packaging: $version built (bundle $bundle_mb MB, tarball $tar_mb MB), smoke-tested, packed," \
     "installed, run and uninstalled in $(( $(date +%s) - start )) s (budget ${BUDGET} s)"
