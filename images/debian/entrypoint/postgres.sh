#!/bin/sh
# Entrypoint of Wharf's Debian-built PostgreSQL image. It keeps the contract of the official
# postgres image: on first start, when the data directory $PGDATA (/var/lib/postgresql/data) is
# empty, it creates the cluster with the superuser POSTGRES_USER (default postgres) and password
# POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust) and the database
# POSTGRES_DB (default: the user's name); POSTGRES_INITDB_ARGS go to initdb. The server listens
# on all addresses, asks clients for the password (scram-sha-256) and runs in the foreground as
# postgres (999:999). Run with other commands, the container runs them instead.
set -eu

if [ "${1#-}" != "$1" ]; then # only flags: run the server with them
	set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then # make the data directory postgres's, then run as postgres
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	chmod 2775 /var/run/postgresql
	find "$PGDATA" /var/run/postgresql ! -user postgres -exec chown postgres:postgres '{}' +
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
		echo "error: the database is not initialized and POSTGRES_PASSWORD is not set: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to let anyone connect without a password)" >&2
		exit 1
	fi
	pwfile=
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		pwfile=$(mktemp)
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	fi
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several arguments
	initdb --username="$user" ${pwfile:+--pwfile="$pwfile"} --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-}
	[ -z "$pwfile" ] || rm -f "$pwfile"
	printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	if [ "$db" != postgres ]; then
		sock=$(mktemp -d)
		pg_ctl --silent -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$sock" -w start
		psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet -h "$sock" --username="$user" --dbname=postgres --set db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
		pg_ctl --silent -D "$PGDATA" -m fast -w stop
		rmdir "$sock"
	fi
	echo "PostgreSQL init process complete: user $user, database $db; ready for start up."
fi

exec "$@"
