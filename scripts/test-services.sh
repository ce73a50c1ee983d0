#!/usr/bin/env bash
# Make sure Redis and PostgreSQL are there for the tests, and write their URLs to var/test.env.
# Reuses servers named by REDIS_URL / DATABASE_URL, else the usual local ones, else starts
# (installing from Debian's packages if absent) local ones.
set -euo pipefail
mkdir -p var
env_file=var/test.env

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
r_hostport="${redis_url#*://}"; r_hostport="${r_hostport#*@}"; r_hostport="${r_hostport%%/*}"
r_host="${r_hostport%%:*}"; r_port="${r_hostport##*:}"; [ "$r_port" = "$r_host" ] && r_port=6379
if ! port_open "$r_host" "$r_port"; then
  if [ -n "${REDIS_URL:-}" ]; then echo "REDIS_URL=$REDIS_URL does not answer" >&2; exit 1; fi
  command -v redis-server >/dev/null || bash scripts/system-deps.sh --services
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/hotline-test.log
  for _ in $(seq 50); do port_open 127.0.0.1 6379 && break; sleep 0.1; done
  port_open 127.0.0.1 6379 || { echo "could not start redis-server" >&2; exit 1; }
fi

pg_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
p_hostport="${pg_url#*://}"; p_hostport="${p_hostport#*@}"; p_hostport="${p_hostport%%/*}"
p_host="${p_hostport%%:*}"; p_port="${p_hostport##*:}"; [ "$p_port" = "$p_host" ] && p_port=5432
if ! port_open "$p_host" "$p_port"; then
  if [ -n "${DATABASE_URL:-}" ]; then echo "DATABASE_URL=$DATABASE_URL does not answer" >&2; exit 1; fi
  command -v pg_ctlcluster >/dev/null || bash scripts/system-deps.sh --services
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start
  for _ in $(seq 100); do port_open 127.0.0.1 5432 && break; sleep 0.1; done
  port_open 127.0.0.1 5432 || { echo "could not start PostgreSQL" >&2; exit 1; }
fi
# A freshly installed server asks passwords on TCP: give the tests a role of their own.
if [ -z "${DATABASE_URL:-}" ] && command -v psql >/dev/null && ! psql "$pg_url" -Atc 'select 1' >/dev/null 2>&1; then
  su postgres -c 'psql -q' >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline') THEN
    CREATE ROLE hotline LOGIN SUPERUSER PASSWORD 'hotline-test';
  END IF;
END $$;
SQL
  su postgres -c "psql -Atc \"SELECT 1 FROM pg_database WHERE datname = 'hotline_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O hotline hotline_test"
  pg_url="postgresql://hotline:hotline-test@127.0.0.1:5432/hotline_test"
fi
printf 'export DATABASE_URL=%q\nexport REDIS_URL=%q\n' "$pg_url" "$redis_url" > "$env_file"
echo "test services: PostgreSQL ${pg_url%%\?*} Redis $redis_url"
