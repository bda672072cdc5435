#!/usr/bin/env bash
# Back up Linli's PostgreSQL database: one pg_dump in the custom format (-Fc: compressed, restorable table by
# table with pg_restore), checked by listing it, then renamed into place, so a file named linli-*.dump is a
# complete dump. Keeps the newest BACKUP_KEEP dumps (default 14) of BACKUP_DIR.
#
#   DATABASE_URL=postgresql+psycopg://linli@db/linli deploy/backup.sh [BACKUP_DIR]
#
# DATABASE_URL is the app's (the "+psycopg" driver name is dropped for pg_dump); a password comes from
# ~/.pgpass or PGPASSWORD as for any libpq client. BACKUP_DIR defaults to /var/backups/linli. Prints the
# dump's path. Exit status non-zero, and no linli-*.dump file written, when anything fails.
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database to back up}"
dir="${1:-${BACKUP_DIR:-/var/backups/linli}}"
keep="${BACKUP_KEEP:-14}"
case "$DATABASE_URL" in
  postgresql*://*|postgres://*) ;;
  *) echo "backup.sh: DATABASE_URL is not a PostgreSQL URL (SQLite: copy the file with sqlite3 .backup)" >&2; exit 2 ;;
esac
case "$keep" in ''|*[!0-9]*) echo "backup.sh: BACKUP_KEEP must be a whole number" >&2; exit 2 ;; esac
url="${DATABASE_URL/+psycopg/}"
url="${url/+psycopg2/}"

mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$dir/linli-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --no-password --file="$partial" --dbname="$url"
pg_restore --list "$partial" > /dev/null   # readable to the end: a truncated dump fails here
mv "$partial" "$final"
trap - EXIT

if [ "$keep" -gt 0 ]; then
  ls -1t "$dir"/linli-*.dump 2>/dev/null | tail -n +"$((keep + 1))" | xargs -r rm -f --
fi
echo "$final"
