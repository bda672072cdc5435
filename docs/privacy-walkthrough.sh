#!/bin/bash
# Residents' rights and staff sign-in, by HTTP, on the demo data (SQLite): a copy of resident.demo's data,
# elder.demo closing their account (the cooling-off week cut short in the database), staff.demo setting up
# the second factor. Start the service first: `SECOND_FACTOR=required make run` (another shell), then
# `docs/privacy-walkthrough.sh`. It changes the demo data: `make demo` after `rm instance/linli.db` resets it.
set -u
cd "$(dirname "$0")/.."
export FLASK_APP=manage.py SECOND_FACTOR=required
W=$(mktemp -d)
PY=.venv/bin/python
B=${BASE:-http://127.0.0.1:5000}/api/v1
j() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
login() { curl -s -X POST $B/auth/demo -H 'Content-Type: application/json' -d "{\"username\":\"$1\"}"; }

echo "== 1. A copy of resident.demo's data =="
RT=$(login resident.demo | j 'd["access_token"]')
curl -s -X POST $B/me/data-export -H "Authorization: Bearer $RT" -w '\nHTTP %{http_code}\n' | tee $W/export.json | head -c 600; echo
ID=$(head -1 $W/export.json | j 'd["id"]')
curl -s $B/me/data-export/$ID/download -H "Authorization: Bearer $RT" -o $W/export.zip -w 'download HTTP %{http_code}, %{size_download} bytes\n'
unzip -l $W/export.zip
unzip -p $W/export.zip profile.json | head -30
echo "-- another resident asks for it:"
OT=$(login family.demo | j 'd["access_token"]')
curl -s $B/me/data-export/$ID/download -H "Authorization: Bearer $OT" -w '\nHTTP %{http_code}\n'

echo; echo "== 2. elder.demo closes the account =="
RT=$(login elder.demo | j 'd["access_token"]')
curl -s -X DELETE $B/me -H "Authorization: Bearer $RT" -w '\nHTTP %{http_code}\n'
UID_R=$($PY - <<'PY'
import sqlite3; c=sqlite3.connect("instance/linli.db"); print(c.execute("select id from user where username='elder.demo'").fetchone()[0])
PY
)
echo "elder.demo is user $UID_R; rows about them before:"
$PY - "$UID_R" <<'PY'
import sqlite3, sys
u = int(sys.argv[1]); c = sqlite3.connect("instance/linli.db")
q = {"resident_profile": "select count(*) from resident_profile where user_id=?",
     "wechat_account": "select count(*) from wechat_account where user_id=?",
     "case reported": "select count(*) from \"case\" where reporter_user_id=?",
     "case_follower": "select count(*) from case_follower where user_id=?",
     "notification": "select count(*) from notification where user_id=?",
     "meal_booking as diner": "select count(*) from meal_booking where diner_user_id=?",
     "  of them still to come": "select count(*) from meal_booking where diner_user_id=? and status in ('confirmed','waitlisted') and starts_at > strftime('%Y-%m-%d %H:%M:%f','now')",
     "meal_card": "select count(*) from meal_card where user_id=?",
     "ballot cast": "select count(*) from ballot where cast_by=?",
     "motion_voter": "select count(*) from motion_voter where user_id=?",
     "family_link live": "select count(*) from family_link where (proxy_user_id=? or elder_user_id=?) and status in ('pending','confirmed')",
     "owner": "select count(*) from owner where user_id=?",
     "upload": "select count(*) from upload where owner_user_id=?",
     "consent live": "select count(*) from consent where user_id=? and withdrawn_at is null"}
for k, sql in q.items():
    print(f"  {k:24} {c.execute(sql, (u,) * sql.count('?')).fetchone()[0]}")
PY
echo "-- the cooling-off week passes (erase_at set back to now for this walkthrough), the hourly job runs:"
$PY - <<'PY'
import sqlite3; c=sqlite3.connect("instance/linli.db"); c.execute("update account_closure set erase_at=strftime('%Y-%m-%d %H:%M:%f','now','-1 second') where status='pending'"); c.commit()
PY
.venv/bin/flask jobs run-once system.account_closures
curl -s $B/me -H "Authorization: Bearer $RT" -w '\nHTTP %{http_code}\n'
$PY - "$UID_R" <<'PY'
import json, sqlite3, sys
u = int(sys.argv[1]); c = sqlite3.connect("instance/linli.db")
print("user row:", c.execute("select id, username, nickname, is_active from user where id=?", (u,)).fetchone())
print("bookings now:", c.execute("select status, count(*), sum(address is not null), sum(diet_note is not null) from meal_booking where diner_user_id=? group by status", (u,)).fetchall())
status, summary = c.execute("select status, summary from account_closure where user_id=?", (u,)).fetchone()
print("closure:", status); s = json.loads(summary)
print(json.dumps(s["changed"], ensure_ascii=False, indent=1)); print("kept:"); [print(" -", k) for k in s["kept"]]
PY

echo; echo "== 3. Staff sign-in with a second factor (SECOND_FACTOR=required) =="
ST=$(login staff.demo)
echo "$ST" | j '{k: d["user"][k] for k in ("second_factor", "second_factor_name", "roles", "withheld_roles")}'
TOK=$(echo "$ST" | j 'd["access_token"]')
curl -s "$B/cases?page_size=1" -H "Authorization: Bearer $TOK" -w '\nHTTP %{http_code}\n' | head -c 300; echo
curl -s -X POST $B/me/second-factor -H "Authorization: Bearer $TOK" > $W/sf.json
head -c 200 $W/sf.json; echo
SECRET=$(cat $W/sf.json | j 'd["secret"]')
code() { $PY -c "
import base64,time,sys
from service.second_factor import code_at
print(code_at(base64.b32decode('$SECRET'), int(time.time())//30 + $1))"; }
echo "-- a wrong code:"
curl -s -X POST $B/me/second-factor/confirm -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d '{"code":"000000"}' -w '\nHTTP %{http_code}\n'
echo "-- the authenticator's code:"
curl -s -X POST $B/me/second-factor/confirm -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d "{\"code\":\"$(code 0)\"}" > $W/conf.json
cat $W/conf.json | j '{"second_factor": d["user"]["second_factor"], "roles": d["user"]["roles"], "recovery_codes": len(d["recovery_codes"])}'
TOK2=$(cat $W/conf.json | j 'd["access_token"]')
curl -s "$B/cases?page_size=1" -H "Authorization: Bearer $TOK2" -o /dev/null -w 'staff queue with the second factor: HTTP %{http_code}\n'
echo "-- next sign-in: the code, six wrong ones in a row:"
TOK3=$(login staff.demo | j 'd["access_token"]')
for i in 1 2 3 4 5 6; do curl -s -X POST $B/auth/second-factor -H "Authorization: Bearer $TOK3" -H 'Content-Type: application/json' -d '{"code":"123456"}' -o /dev/null -w "%{http_code} "; done; echo
