#!/usr/bin/env bash
# Make sure the Debian packages the project needs are present; install the missing ones
# with apt-get when running as root, otherwise say exactly what to install.
#   scripts/system-deps.sh fonts   fonts embedded in the PDFs (make demo)
#   scripts/system-deps.sh test    fonts plus the tools the tests open documents with, and
#                                  Debian's Chromium for the browser test (make test)
set -euo pipefail

need=()
have_file() { [ -e "$1" ]; }
have_file /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || need+=(fonts-dejavu-core)
have_file /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf || need+=(fonts-droid-fallback)
if [ "${1:-fonts}" = test ]; then
    command -v pdftoppm >/dev/null || need+=(poppler-utils)
    command -v libreoffice >/dev/null || need+=(libreoffice-writer-nogui)
    # Playwright drives this one; it never downloads a browser of its own.
    have_file /usr/bin/chromium || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    # Another apt-get (a parallel job) may hold the lock: wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >/dev/null
else
    echo "missing Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
fi
