#!/bin/sh
# Entrypoint of Wharf's Debian-built Redis image. It keeps the contract of the official redis
# image: `redis-server [CONFIG-FILE] [--option value ...]` (e.g. --requirepass PASSWORD) runs in
# the foreground as redis (999:999), keeps its data in the working directory /data and, unless
# told otherwise, accepts connections from every address (protected mode off, as the official
# image builds it). Run with other commands, the container runs them instead.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then # only flags or a config file
	set -- redis-server "$@"
fi
if [ "$1" != redis-server ]; then
	exec "$@"
fi

if [ "$(id -u)" = 0 ]; then # make the data directory redis's, then run as redis
	find . ! -user redis -exec chown redis:redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

shift
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then # a config file comes first
	conf=$1
	shift
	set -- redis-server "$conf" --protected-mode no "$@"
else
	set -- redis-server --protected-mode no "$@"
fi
exec "$@"
