#!/usr/bin/env bash
# Restore a dump written by deploy/backup.sh into the PostgreSQL database DATABASE_URL names.
#
#   DATABASE_URL=postgresql+psycopg://linli@db/linli_restored deploy/restore.sh /var/backups/linli/linli-….dump
#
# The database must exist and be empty (createdb -O linli linli_restored): restore.sh refuses one that has
# tables, unless RESTORE_CLEAN=1, which drops what the dump holds before restoring it (the database being
# replaced: stop the API and the scheduler first). The dump is restored in one transaction (all or nothing),
# owned by the user DATABASE_URL logs in as (--no-owner --no-privileges). Then check it:
#   DATABASE_URL=… flask --app manage db check     (the schema is the code's: models == migrations at head)
set -euo pipefail

dump="${1:?usage: deploy/restore.sh DUMP_FILE (written by deploy/backup.sh)}"
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database to restore into}"
case "$DATABASE_URL" in
  postgresql*://*|postgres://*) ;;
  *) echo "restore.sh: DATABASE_URL is not a PostgreSQL URL" >&2; exit 2 ;;
esac
[ -r "$dump" ] || { echo "restore.sh: cannot read $dump" >&2; exit 2; }
url="${DATABASE_URL/+psycopg/}"
url="${url/+psycopg2/}"

pg_restore --list "$dump" > /dev/null   # a dump pg_restore can read to the end, before touching the database

tables="$(psql --no-password --no-psqlrc --quiet --tuples-only --no-align --dbname="$url" \
          --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
options=(--no-owner --no-privileges --exit-on-error --single-transaction --no-password)
if [ "$tables" != "0" ]; then
  if [ "${RESTORE_CLEAN:-0}" != "1" ]; then
    echo "restore.sh: the database already has $tables tables; restore into an empty database," \
         "or set RESTORE_CLEAN=1 to replace what the dump holds" >&2
    exit 3
  fi
  options+=(--clean --if-exists)
fi
pg_restore "${options[@]}" --dbname="$url" "$dump"
echo "restored $dump"
