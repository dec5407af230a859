#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the hub's
# PostgreSQL tests, with database `test` reachable by the current user
# without a password (as on the project's CI machines, where it is already
# running: then this script only checks).
#
# On a fresh Debian machine without one it installs Debian's `postgresql`,
# starts the cluster, lets local TCP connections in with trust (test
# machines only) and creates the role and the database.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
   && psql -h 127.0.0.1 -p 5432 -d test -Atc 'select 1' >/dev/null 2>&1; then
  echo "==> PostgreSQL 可用：127.0.0.1:5432/test"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL 未在 127.0.0.1:5432 运行，且需要 root 身份安装。" >&2
  exit 1
fi
echo "==> 安装并启动 PostgreSQL（仅供测试：本机连接免密码）"
export DEBIAN_FRONTEND=noninteractive
dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed" \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
ver=$(ls /etc/postgresql | sort -V | tail -1)
hba=/etc/postgresql/$ver/main/pg_hba.conf
grep -q '^host all all 127.0.0.1/32 trust' "$hba" \
  || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
pg_ctlcluster "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main reload
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
me=$(id -un)
su postgres -c "psql -Atc \"select 1 from pg_roles where rolname='$me'\"" | grep -q 1 \
  || su postgres -c "createuser -s '$me'"
su postgres -c "psql -Atc \"select 1 from pg_database where datname='test'\"" | grep -q 1 \
  || su postgres -c "createdb -O '$me' test"
psql -h 127.0.0.1 -p 5432 -d test -Atc 'select 1' >/dev/null
echo "==> PostgreSQL 可用：127.0.0.1:5432/test"
