#!/bin/sh
# Creates Temporal's two PostgreSQL databases and applies their schemas, or upgrades them to the server's version.
# Idempotent: it runs at every start. The compose job `temporal-schema` runs it in temporalio/admin-tools, and
# `npm run test:production-stack` runs it against its own PostgreSQL.
#   POSTGRES_SEEDS, DB_PORT   where PostgreSQL listens
#   POSTGRES_USER             the role Temporal uses; SQL_PASSWORD its password (read by temporal-sql-tool)
#   SCHEMA_DIR                the server's schema/postgresql/v12 folder (default: where admin-tools keeps it)
set -eu
tool="temporal-sql-tool --plugin postgres12 --ep ${POSTGRES_SEEDS} -u ${POSTGRES_USER} -p ${DB_PORT}"
schema=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
for db in temporal temporal_visibility; do
  dir=$([ $db = temporal ] && echo temporal || echo visibility)
  # Both fail harmlessly once done; update-schema below fails loudly if the database is unusable.
  $tool --db $db create || true
  $tool --db $db setup-schema -v 0.0 || true
  $tool --db $db update-schema -d "$schema/$dir/versioned"
done
