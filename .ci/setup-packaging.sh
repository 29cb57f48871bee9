#!/usr/bin/env bash
# CI: tools for the packaging checks (issue 9).
#   desktop-file-utils  - desktop-file-validate for packaging/linux/*.desktop
#   appstream           - appstreamcli validate for the AppStream metainfo
#   xvfb, xauth         - an X server for the bundle's xcb smoke check
#   libxcb-* libxkbcommon-x11-0 - what Qt's xcb platform plugin loads from the system (every X
#                         desktop has them; a bare CI image does not)
# Idempotent and quiet: installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/apt.sh"

packages=(desktop-file-utils appstream xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
          libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0)
apt_install_missing "${packages[@]}"

command -v desktop-file-validate >/dev/null
command -v appstreamcli >/dev/null
echo "desktop-file-utils $(dpkg-query -W -f='${Version}' desktop-file-utils), appstream $(dpkg-query -W -f='${Version}' appstream)"
