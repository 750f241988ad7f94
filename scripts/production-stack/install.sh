#!/usr/bin/env bash
# Installs what `npm run test:production-stack` and the bench's production-stack scenario run, when it is missing:
#   - PostgreSQL, Debian's package (apt-get, as root), unless pg_ctl and initdb are there already;
#   - Temporal's server and its schema tool, built from their Go module with `go install`, plus the server's
#     PostgreSQL schema folders, into .cache/temporal-server-<version>/ (git-ignored): a second run reuses them.
# Building the server needs Go (any release that can fetch the toolchain below, 1.21 or later) and takes some minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

TEMPORAL_SERVER_VERSION=1.32.2
# v1.32.2 needs Go 1.26.10 or later; GOTOOLCHAIN fetches this release through the Go module proxy when go is older.
GO_TOOLCHAIN=go1.27.3
dir="$PWD/.cache/temporal-server-$TEMPORAL_SERVER_VERSION"

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  # Debian keeps the server binaries out of PATH, one folder per major version: take the newest.
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL is missing: install it (pg_ctl and initdb, version 12 or later), or set PG_BIN to its bin folder" >&2
    exit 1
  fi
  echo "installing PostgreSQL (Debian package postgresql)"
  started=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  echo "installed PostgreSQL in $((SECONDS - started)) s"
fi
echo "PostgreSQL: $("$(pg_bin)/postgres" --version) in $(pg_bin)"

if [ -x "$dir/bin/temporal-server" ] && [ -x "$dir/bin/temporal-sql-tool" ] && [ -d "$dir/schema/postgresql/v12" ]; then
  echo "Temporal server $TEMPORAL_SERVER_VERSION: reusing the build in ${dir#"$PWD/"}"
  echo "reused" >"$dir/build-figure"
else
  if ! command -v go >/dev/null 2>&1; then
    echo "Go is missing: install Go 1.21 or later to build Temporal's server $TEMPORAL_SERVER_VERSION" >&2
    exit 1
  fi
  echo "building Temporal server $TEMPORAL_SERVER_VERSION and its schema tool with go install (toolchain $GO_TOOLCHAIN)"
  started=$SECONDS
  rm -rf "$dir" && mkdir -p "$dir/gobin"
  GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$dir/gobin" go install \
    "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  mkdir -p "$dir/bin" "$dir/schema"
  mv "$dir/gobin/server" "$dir/bin/temporal-server"
  mv "$dir/gobin/sql" "$dir/bin/temporal-sql-tool"
  rmdir "$dir/gobin"
  # The schema folders ship in the module, not in the binaries: keep the ones the set-up script applies.
  module="$(GOTOOLCHAIN=$GO_TOOLCHAIN go env GOMODCACHE)/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION"
  cp -R "$module/schema/postgresql" "$dir/schema/postgresql"
  chmod -R u+w "$dir/schema"
  echo "built in $((SECONDS - started)) s" | tee "$dir/build-figure"
fi
"$dir/bin/temporal-server" --version
