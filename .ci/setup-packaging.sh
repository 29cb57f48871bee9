#!/usr/bin/env bash
# CI: tools for the packaging checks (issues 9 and 23).
#   desktop-file-utils  - desktop-file-validate and update-desktop-database for packaging/linux/
#   appstream           - appstreamcli validate for the AppStream metainfo
#   gtk-update-icon-cache - the icon cache the installer refreshes and the uninstaller rebuilds
#   binutils            - strip --strip-debug for the lean bundle (and readelf, the tests' judge)
#   gnupg               - signs SHA256SUMS in the signing test (a throwaway key)
#   xvfb, xauth         - an X server for the bundle's xcb smoke check
#   weston              - a headless Wayland compositor for the bundle's wayland smoke check
#                         (brings libwayland-cursor0, which Qt's wayland plugin takes from the host)
#   libxcb1, libx11-6   - the X client core Qt's xcb plugin takes from the host (the xcb helper
#                         libraries around it are bundled; a bare CI image may lack even these)
# Idempotent and quiet: installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/apt.sh"

packages=(desktop-file-utils appstream gtk-update-icon-cache binutils gnupg xvfb xauth weston
          libwayland-cursor0 libwayland-client0 libxcb1 libx11-6)
apt_install_missing "${packages[@]}"

command -v desktop-file-validate >/dev/null
command -v appstreamcli >/dev/null
command -v strip >/dev/null
echo "desktop-file-utils $(dpkg-query -W -f='${Version}' desktop-file-utils), appstream $(dpkg-query -W -f='${Version}' appstream), weston $(dpkg-query -W -f='${Version}' weston)"
