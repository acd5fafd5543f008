#!/usr/bin/env bash
# Installs and starts what the test suite needs, when it is missing: PostgreSQL, ffmpeg, sox, the S3-compatible test
# server (versitygw), Chromium, avahi, iproute2, nftables, faketime and wrk. Idempotent: a second run only checks.
# Works on Debian/Ubuntu as root (CI runs as root); elsewhere it says what is missing and leaves the rest to the tests,
# which skip with a reason (and fail under CI=true / LOMUZ_REQUIRE_NETNS=1).
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have ffmpeg       || need_apt+=(ffmpeg)
have sox          || need_apt+=(sox)
have chromium     || need_apt+=(chromium)
have avahi-browse || need_apt+=(avahi-utils avahi-daemon dbus)
have ip           || need_apt+=(iproute2)
have nft          || need_apt+=(nftables)
have faketime     || need_apt+=(faketime)
have wrk          || need_apt+=(wrk)
have tc           || need_apt+=(iproute2)
have pg_ctlcluster || have postgres || need_apt+=(postgresql)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "test-deps: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "test-deps: missing ${need_apt[*]} (not root or no apt-get); tests that need them will say so" >&2
  fi
fi

# PostgreSQL on 127.0.0.1:5432 with trust auth and a database named test.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if have pg_ctlcluster; then
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
      ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      pg_createcluster "$ver" main >/dev/null
    fi
    conf=/etc/postgresql/$ver/main
    # Trust auth on loopback only: the cluster exists for tests on this machine.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nlocal all all trust' "$conf/pg_hba.conf"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc 'create database test' || true
else
  echo "test-deps: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
fi

# versitygw, the S3-compatible server the blob conformance suite runs against.
gobin=$(go env GOPATH)/bin
if [ ! -x "$gobin/versitygw" ]; then
  echo "test-deps: building versitygw v1.8.0"
  GOFLAGS= go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
echo "test-deps: ok"
