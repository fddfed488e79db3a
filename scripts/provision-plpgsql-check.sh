#!/usr/bin/env bash
# `npm test` runs this first (package.json "pretest", after provision-chromium.mjs). When the suite runs against the
# machine's PostgreSQL 15 (TEST_DATABASE_URL set, /usr/lib/postgresql/15 present), test/sql/plpgsql_check.test.ts needs
# the PL/pgSQL linter there: Debian's postgresql-15-plpgsql-check, installed here when missing (as root; otherwise
# a one-line message says what to install). The embedded PostgreSQL of the default run needs nothing. Idempotent.
set -euo pipefail
[ -n "${TEST_DATABASE_URL:-}" ] || exit 0
[ -d /usr/lib/postgresql/15 ] || exit 0
[ -f /usr/share/postgresql/15/extension/plpgsql_check.control ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "idgap: the suite on PostgreSQL 15 needs plpgsql_check: run \`sudo apt-get install postgresql-15-plpgsql-check\`, then npm test" >&2
  exit 1
fi
echo "== installing Debian's postgresql-15-plpgsql-check for the PL/pgSQL lint test" >&2
export DEBIAN_FRONTEND=noninteractive
lock=(-o DPkg::Lock::Timeout=600)
apt-get "${lock[@]}" install -y -qq postgresql-15-plpgsql-check >/dev/null 2>&1 \
  || { apt-get "${lock[@]}" update -qq && apt-get "${lock[@]}" install -y -qq postgresql-15-plpgsql-check >/dev/null; }
