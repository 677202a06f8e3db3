#!/usr/bin/env bash
# `make test` on a fresh machine installs the Debian packages it needs (as root) or stops with the command (issue 21).
#
#   sudo bash tools/check_sysdeps_chroot.sh [CHROOT_DIR]
#
# Builds a minimal Debian bookworm (debootstrap --variant=minbase, plus make and python3) into CHROOT_DIR, copies
# this commit there, and runs `make sysdeps` first as an unprivileged user (must print the apt-get command and fail),
# then as root (must install the packages), then as the user again (must pass). Writes the transcript to
# tools/results/fresh_machine/sysdeps_chroot.txt.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/edgeprune-chroot}
result=$repo/tools/results/fresh_machine/sysdeps_chroot.txt
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
[ -x "$root/usr/bin/make" ] || debootstrap --variant=minbase --include=make,python3,ca-certificates bookworm "$root" \
    http://deb.debian.org/debian >/dev/null
rm -rf "$root/repo" && mkdir -p "$root/repo" && git -C "$repo" archive HEAD | tar -x -C "$root/repo"
cp /etc/resolv.conf "$root/etc/"
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
id -u newuser >/dev/null 2>&1 || chroot "$root" useradd -m newuser 2>/dev/null || true
mkdir -p "$(dirname "$result")"
{
  echo "# tools/check_sysdeps_chroot.sh, $(date -u +%Y-%m-%dT%H:%MZ): Debian bookworm minbase + make + python3"
  echo "## make sysdeps as an unprivileged user"
  chroot "$root" su newuser -c 'cd /repo && make sysdeps' 2>&1 && echo "exit 0" || echo "exit $?"
  echo "## make sysdeps as root"
  chroot "$root" bash -c 'cd /repo && make sysdeps 2>&1 | grep -v -e debconf -e "Created symlink" -e "/dev/pts"' \
      && echo "exit 0"
  chroot "$root" bash -c 'ldconfig -p | grep libusb-1.0; ls /usr/bin/chromium /usr/bin/chromedriver'
  echo "## make sysdeps as the user again"
  chroot "$root" su newuser -c 'cd /repo && make sysdeps' 2>&1 && echo "exit 0" || echo "exit $?"
} > "$result"
umount "$root/proc" || true
echo "wrote $result"
