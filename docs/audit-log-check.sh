#!/bin/bash
# The audit log refuses an UPDATE, a DELETE and a TRUNCATE from the application's own database user, set up as
# deploy/README.md says (linli_owner migrates, linli_app runs the service), on a scratch PostgreSQL database
# linli_walk: `docs/audit-log-check.sh` (needs a local PostgreSQL with trust authentication).
set -u
cd "$(dirname "$0")/.."
P="psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=0 -q"
$P -d postgres -c "DROP DATABASE IF EXISTS linli_walk" -c "CREATE DATABASE linli_walk"
$P -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='linli_owner') THEN CREATE ROLE linli_owner LOGIN; END IF; IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='linli_app') THEN CREATE ROLE linli_app LOGIN; END IF; END\$\$"
$P -d linli_walk -c "GRANT ALL ON SCHEMA public TO linli_owner" -c "GRANT CONNECT ON DATABASE linli_walk TO linli_app" -c "GRANT USAGE ON SCHEMA public TO linli_app" \
   -c "ALTER DEFAULT PRIVILEGES FOR ROLE linli_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO linli_app" \
   -c "ALTER DEFAULT PRIVILEGES FOR ROLE linli_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO linli_app"
DATABASE_URL=postgresql+psycopg://linli_owner@127.0.0.1:5432/linli_walk FLASK_APP=manage.py .venv/bin/flask db upgrade 2>&1 | tail -1
DATABASE_URL=postgresql+psycopg://linli_app@127.0.0.1:5432/linli_walk FLASK_APP=manage.py .venv/bin/flask demo load 2>&1 | tail -1
A="psql -h 127.0.0.1 -U linli_app -d linli_walk"
$A -c "SELECT current_user, count(*) AS entries FROM audit_entry"
$A -c "UPDATE audit_entry SET action = 'nothing.happened' WHERE id = (SELECT min(id) FROM audit_entry)"
$A -c "DELETE FROM audit_entry WHERE id = (SELECT min(id) FROM audit_entry)"
$A -c "TRUNCATE audit_entry"
$A -c "ALTER TABLE audit_entry DISABLE TRIGGER ALL"
$A -c "SELECT count(*) AS entries_after FROM audit_entry"
