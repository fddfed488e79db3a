#!/usr/bin/env bash
# Installs plpgsql_check for the machine's PostgreSQL 15 (Debian's postgresql-15-plpgsql-check) when it is
# missing, so test/sql/plpgsql_check.test.ts can run the linter there; that test fails on PostgreSQL 15 without it.
# Idempotent; needs root (apt-get). The embedded PostgreSQL of the suite has no plpgsql_check and needs none.
set -euo pipefail
if [ ! -d /usr/lib/postgresql/15 ]; then
  echo "provision-plpgsql-check: no PostgreSQL 15 on this machine; nothing to do"
  exit 0
fi
if [ -f /usr/share/postgresql/15/extension/plpgsql_check.control ]; then
  exit 0
fi
echo "== installing Debian's postgresql-15-plpgsql-check for the PL/pgSQL lint test"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq postgresql-15-plpgsql-check >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql-15-plpgsql-check >/dev/null; }
