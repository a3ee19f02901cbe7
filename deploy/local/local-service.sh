#!/bin/sh
# Runs one service of the compose stack from Debian's packages, on 127.0.0.1 (host network):
#   local-service postgres PORT   reads POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB as the
#                                 official image does; data in $PGDATA (a volume)
#   local-service redis PORT [redis-server options...]   data in /data (a volume)
set -eu
what=$1
port=$2
shift 2
case $what in
postgres)
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    data=${PGDATA:-/var/lib/postgresql/data}
    mkdir -p "$data" /var/run/postgresql
    chown postgres:postgres "$data" /var/run/postgresql
    chmod 700 "$data"
    if [ ! -s "$data/PG_VERSION" ]; then
        pw=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
        chown postgres "$pw"
        runuser -u postgres -- "$bin/initdb" -D "$data" -U "$POSTGRES_USER" --pwfile="$pw" \
            --auth-local=trust --auth-host=scram-sha-256 >/dev/null
        rm -f "$pw"
        # first start on the socket only, to create the database (createdb quotes the name)
        runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w -o "-c listen_addresses= -p $port" \
            start >/dev/null
        runuser -u postgres -- "$bin/createdb" -p "$port" -U "$POSTGRES_USER" "$POSTGRES_DB"
        runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w stop >/dev/null
    fi
    exec runuser -u postgres -- "$bin/postgres" -D "$data" -c listen_addresses=127.0.0.1 \
        -p "$port" "$@"
    ;;
redis)
    mkdir -p /data
    chown redis:redis /data
    cd /data
    exec runuser -u redis -- redis-server --bind 127.0.0.1 --port "$port" --dir /data "$@"
    ;;
*)
    echo "local-service: unknown service '$what' (postgres or redis)" >&2
    exit 2
    ;;
esac
