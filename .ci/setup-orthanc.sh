#!/usr/bin/env bash
# CI: a real local PACS for the DICOM/PACS tests (issue 10), and the DICOM validator.
#   orthanc           - the Orthanc DICOM server (the tests start their own instance on loopback)
#   orthanc-dicomweb  - its DICOMweb plugin (STOW-RS / QIDO-RS / WADO-RS)
#   dicom3tools       - dciodvfy, the IOD validator the tests run over generated files
#   libjpeg-turbo-progs - jpegtran, which turns rotated JPEGs losslessly for DICOM
#   curl              - the plain STOW-RS baseline of bench/bench_pacs.py
# Idempotent and quiet: installs only what is missing. The packaged Orthanc service is not used
# (the tests start Orthanc with a temporary configuration), so it is stopped if the package
# started it.
set -euo pipefail
. "$(dirname "$0")/apt.sh"

packages=(orthanc orthanc-dicomweb dicom3tools libjpeg-turbo-progs curl)
installed=$(apt_install_missing "${packages[@]}")
if [ -n "$installed" ]; then
    echo "$installed"
    # The package's own service (if an init system started it) would hold port 8042/4242.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
        systemctl stop orthanc || true
    fi
fi

command -v Orthanc >/dev/null
ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so* >/dev/null 2>&1 \
    || ls /usr/lib/orthanc/libOrthancDicomWeb.so* >/dev/null 2>&1 \
    || { echo "orthanc-dicomweb plugin not found" >&2; exit 1; }
command -v dciodvfy >/dev/null
command -v jpegtran >/dev/null
echo "orthanc $(dpkg-query -W -f='${Version}' orthanc), orthanc-dicomweb $(dpkg-query -W -f='${Version}' orthanc-dicomweb), dicom3tools $(dpkg-query -W -f='${Version}' dicom3tools)"
