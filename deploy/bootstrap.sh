#!/bin/sh
# Installs what casesync needs to build and test on Debian 12, when it is
# missing.  As root it runs apt-get; otherwise it prints the exact command
# and stops.  Called by `make demo` and `make check`.
set -u

# lmdb-utils (mdb_dump, mdb_load) and util-linux (setpriv) are for the
# tests: they tamper with a store, and run the CLI as an unprivileged user.
# libmicrohttpd-dev (built with GnuTLS) and libargon2-dev are the web
# console's; chromium, chromium-driver and python3-selenium run its browser
# tests.
# gettext (msgfmt, xgettext, msgcmp) builds the message catalogues.
# systemd (systemd-analyze) and libseccomp2 check the units in
# deploy/systemd/ and run casesync under their restrictions.
# python3-zmq, -msgpack and -cryptography: the hostile-province client of
# the tests (tests/hostile.py).
PKGS="gcc make pkg-config libzmq3-dev liblmdb-dev libmsgpack-dev \
libssl-dev libcjson-dev python3 clang libclang-rt-14-dev lmdb-utils \
util-linux gettext libmicrohttpd-dev libargon2-dev chromium \
chromium-driver python3-selenium python3-zmq python3-msgpack \
python3-cryptography systemd libseccomp2"

missing=""
have_pkg() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
for p in $PKGS; do
	have_pkg "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "casesync: missing packages:$missing (and no apt-get here)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "casesync: missing packages:$missing" >&2
	echo "casesync: run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "casesync: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
	echo "casesync: apt-get install failed; run: apt-get update && apt-get install -y$missing" >&2
	exit 1
}
