#!/usr/bin/env bash
# install-deps.sh: install the Debian packages casemail's dev world and test
# suite need, and nothing else. Idempotent: it checks each piece first and
# runs apt-get (with one `apt-get update`) only when something is missing.
#
# Needed:
#   postgresql       server binaries (initdb, pg_ctl, postgres) for the
#                    throwaway clusters of `casemail dev` and the tests
#   dovecot-imapd    a real IMAP server for the integration tests
#   swaks            to send a first mail to `casemail dev` by hand
#   systemd          systemd-analyze, which verifies deploy/systemd's unit
#   prometheus       promtool, which checks and unit-tests the alert rules
#                    in deploy/monitoring (the package's daemon is not needed;
#                    where systemd runs, Debian starts it on :9090)
#   podman, runc     build and run deploy/container's image in a test
#                    (rootful; the image needs no registry pull; runc because
#                    crun refuses hybrid cgroup hierarchies such as a VM's)
#   curl             to read the answer back over IMAP (README, tests)
#   gcc, libc6-dev   cgo, which `go test -race` needs
#   make, ca-certificates
#
# It never starts, stops or reconfigures a system service. Installing
# dovecot-imapd may start the system's Dovecot on ports 143/993; the tests
# run their own Dovecot with its own base_dir and ports, so that is harmless.
#
# Environment:
#   CASEMAIL_NO_INSTALL=1   only report what is missing, install nothing
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*"; }

# Debian keeps daemons in sbin, which is not on every user's PATH.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# PostgreSQL server binaries: pg_config's bindir (set by libpq-dev or
# postgresql-common) or any /usr/lib/postgresql/N/bin. A bare `initdb` on
# PATH is not enough on its own (it may be a dangling link), so check that
# initdb, pg_ctl and postgres sit together and are executable.
have_pg_server() {
	local dirs=() d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		[ -n "$d" ] && dirs+=("$d")
	fi
	for d in /usr/lib/postgresql/*/bin; do
		[ -d "$d" ] && dirs+=("$d")
	done
	for d in "${dirs[@]}"; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			log "PostgreSQL server binaries: $d"
			return 0
		fi
	done
	return 1
}

have_dovecot() {
	command -v dovecot >/dev/null 2>&1 && pkg_installed dovecot-imapd
}

missing=()
have_pg_server || missing+=(postgresql)
have_dovecot || missing+=(dovecot-imapd)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v swaks >/dev/null 2>&1 || missing+=(swaks)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
pkg_installed libc6-dev || missing+=(libc6-dev)
pkg_installed ca-certificates || [ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)

if [ ${#missing[@]} -eq 0 ]; then
	log "all present (postgresql, dovecot-imapd, systemd, prometheus, podman, runc, swaks, curl, gcc, libc6-dev, make, ca-certificates)"
	exit 0
fi

log "missing: ${missing[*]}"

if [ "${CASEMAIL_NO_INSTALL:-}" = 1 ]; then
	log "CASEMAIL_NO_INSTALL=1: not installing; tests that need them will fail or skip"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	log "no apt-get here: install ${missing[*]} with your system's package manager"
	# In CI a missing piece must fail the run, not silently skip tests.
	if [ -n "${CI:-}" ]; then exit 1; fi
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		log "not root and no sudo: run as root: apt-get install ${missing[*]}"
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

log "running: apt-get update"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q
log "running: apt-get install ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"

# Check again, so that a package that installed but left no usable binary
# is reported here rather than as a puzzling test failure.
fail=0
for p in "${missing[@]}"; do
	case "$p" in
	postgresql) have_pg_server || { log "postgresql installed but no server binaries found"; fail=1; } ;;
	dovecot-imapd) have_dovecot || { log "dovecot-imapd installed but no dovecot binary found"; fail=1; } ;;
	swaks) command -v swaks >/dev/null 2>&1 || { log "swaks not found after install"; fail=1; } ;;
	make | gcc | curl | podman | runc) command -v "$p" >/dev/null 2>&1 || { log "$p not found after install"; fail=1; } ;;
	systemd) command -v systemd-analyze >/dev/null 2>&1 || { log "systemd-analyze not found after install"; fail=1; } ;;
	prometheus) command -v promtool >/dev/null 2>&1 || { log "promtool not found after install"; fail=1; } ;;
	esac
done
[ $fail -eq 0 ] || exit 1
log "installed: ${missing[*]}"
case " ${missing[*]} " in
*" dovecot-imapd "*) log "note: the package may have started the system's Dovecot (ports 143/993); casemail's tests run their own on other ports" ;;
esac
