#!/usr/bin/env bash
# CI (issue 20): peer tools that tests use as independent judges and that a fresh machine lacks.
# On a developer's machine without them those tests skip and say why (tests/helpers.require_tool);
# in CI (CI=true) a missing one fails the test, so they are installed here.
#   poppler-utils - pdftoppm, a second PDF reader for the printed consent sheet (besides PDFium)
#   dbus-daemon   - a private session bus for the screen-lock test (the desktop's lock signal)
# (jpegtran, dciodvfy and Orthanc come from .ci/setup-orthanc.sh.)
# Idempotent and quiet: installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/apt.sh"

apt_install_missing poppler-utils dbus-daemon
command -v pdftoppm >/dev/null
command -v dbus-daemon >/dev/null
echo "poppler-utils $(dpkg-query -W -f='${Version}' poppler-utils), dbus-daemon $(dpkg-query -W -f='${Version}' dbus-daemon)"
