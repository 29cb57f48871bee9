#!/usr/bin/env bash
# Peers the photo tests use as judges (issue 14); without them those tests skip with the reason.
#   libimage-exiftool-perl - exiftool -validate -warning over every stored and exported copy
#   libjpeg-turbo-progs    - jpegtran (DICOM's lossless turns; also installed by setup-orthanc.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/apt.sh
packages=(libimage-exiftool-perl libjpeg-turbo-progs)
installed=$(apt_install_missing "${packages[@]}")
[ -z "$installed" ] || echo "$installed"
command -v exiftool >/dev/null
echo "exiftool $(exiftool -ver)"
