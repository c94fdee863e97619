#!/bin/sh
# openstack-start.sh -- start the OpenStack half of the fabc loopback lab:
# a private PostgreSQL cluster, Keystone (uwsgi), Heat (one heat-all
# process, in-process fake:// messaging) and Glance, every listener on
# 127.0.0.1, from Debian bookworm's own packages.
#
# Idempotent: installs missing packages (apt-get, --no-install-recommends),
# writes configs, creates databases and Keystone objects only when missing,
# starts only what is not running, and waits until each API answers a real
# authenticated request. Writes tests/lab/run/openrc and
# tests/lab/run/clouds.yaml (cloud "fabc-lab": the demo user and project;
# "fabc-lab-admin": admin; "fabc-lab-tls" and "fabc-lab-mtls": the demo
# user through Keystone's TLS listeners). Progress goes to stderr.
#
# Keystone listens on 127.0.0.1:5000 (http, used by everything else),
# 5001 (https) and 5002 (https requiring a client certificate). A private
# lab CA, the server certificate (IP:127.0.0.1, DNS:localhost) and a client
# certificate are made once with openssl in etc/tls/ (ca.pem, server.pem,
# client.pem and their *-key.pem, keys mode 600).
#
# State lives in $FABC_LAB_OS_DIR (default tests/lab/run/openstack): etc/,
# data/, logs/, pids/. Stop with tests/lab/openstack-stop.sh (by PID only).
#
# Environment:
#   FABC_LAB_OS_DIR        state directory
#   FABC_LAB_PG_PORT       private PostgreSQL port (55432)
#   FABC_LAB_SKIP_INSTALL  1: never call apt-get, fail if a package is missing
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RUNDIR=$HERE/run
OS=${FABC_LAB_OS_DIR:-$RUNDIR/openstack}
PG_PORT=${FABC_LAB_PG_PORT:-55432}
LAB_HOST=127.0.0.1
ADMIN_PASS=AdminPass1
DEMO_PASS=DemoPass1
SVC_PASS=ServicePass1
KS_URL=http://$LAB_HOST:5000/v3
KS_TLS_URL=https://$LAB_HOST:5001/v3
KS_MTLS_URL=https://$LAB_HOST:5002/v3
TLS=$OS/etc/tls
PY=/usr/bin/python3
PGBIN=/usr/lib/postgresql/15/bin
CLEAN_ENV="env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root"

[ "$(id -u)" = 0 ] || { echo "openstack-start.sh: run as root" >&2; exit 2; }
mkdir -p "$RUNDIR" "$OS"/etc/keystone "$OS"/etc/heat "$OS"/etc/glance \
    "$OS"/data/glance/images "$OS"/data/glance/staging \
    "$OS"/data/glance/tasks "$OS"/logs "$OS"/pids
[ -e "$RUNDIR/.gitignore" ] || printf '*\n' > "$RUNDIR/.gitignore"

T0=$(date +%s%N)
say() {
    echo "[lab openstack +$(( ($(date +%s%N) - T0) / 1000000 ))ms] $*" >&2
}
die() { say "FATAL: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$LAB_HOST/$1") 2>/dev/null; }
# running NAME PATTERN: pids/NAME.pid names a live process matching PATTERN
running() {
    local f=$OS/pids/$1.pid pid
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    [ "$(cut -d' ' -f3 < /proc/$pid/stat)" != Z ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$2"
}
need_free() { # need_free PORT...
    local p
    for p in "$@"; do
        if port_open "$p"; then
            die "port $LAB_HOST:$p is taken by a process this lab did not start"
        fi
    done
}
# wait_code URL CODE SECONDS [curl args]: bounded poll until URL answers CODE
wait_code() {
    local url=$1 want=$2 secs=$3 code="" i
    shift 3
    for i in $(seq 1 $(( secs * 5 ))); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" \
            "$url" || true)
        [ "$code" = "$want" ] && return 0
        sleep 0.2
    done
    say "no $want from $url after ${secs}s (last: $code)"
    return 1
}
daemon() { # daemon NAME CMD...: own session, clean env, logs, pid file
    local name=$1
    shift
    setsid $CLEAN_ENV "$@" >> "$OS/logs/$name.out" 2>&1 < /dev/null &
    echo $! > "$OS/pids/$name.pid"
}
manage() { $CLEAN_ENV "$@" >> "$OS/logs/manage.log" 2>&1; }
# stale NAME PATTERN SIGNAL CONF PORT...: a running service whose config
# changed since it started is stopped (by its PID), and its ports waited
# for until closed, so it starts again below
stale() {
    local sum pid name=$1 pat=$2 sig=$3 conf=$4 p
    shift 4
    sum=$(md5sum < "$conf" | cut -c1-32)
    if running "$name" "$pat" &&
        [ "$(cat "$OS/pids/$name.conf-md5" 2>/dev/null)" != "$sum" ]; then
        pid=$(tr -dc 0-9 < "$OS/pids/$name.pid")
        say "$name: config changed, restarting (pid $pid)"
        kill -s "$sig" "$pid" 2>/dev/null
        for i in $(seq 1 100); do
            running "$name" "$pat" || break
            sleep 0.1
        done
        running "$name" "$pat" && kill -KILL "$pid" 2>/dev/null
        for p in "$@"; do
            for i in $(seq 1 50); do
                port_open "$p" || break
                sleep 0.1
            done
        done
    fi
    echo "$sum" > "$OS/pids/$name.conf-md5"
}

# ------------------------------------------------------------- packages
PKGS=$(grep -v '^#' "$HERE/openstack-packages.txt" | tr '\n' ' ')
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "${FABC_LAB_SKIP_INSTALL:-0}" = 1 ] && die "missing packages:$missing"
    say "installing:$missing"
    policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # keep postinst scripts from starting daemons on 0.0.0.0
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold $missing; } \
        >> "$OS/logs/apt.log" 2>&1 || rc=$?
    [ $policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || die "apt-get failed (see $OS/logs/apt.log)"
    say "packages installed"
fi

# ------------------------------------------------------------- TLS
# A private lab CA and, signed by it, a server certificate for 127.0.0.1
# and localhost and a client certificate. Made once; a certificate that no
# longer verifies against ca.pem (the CA was made again) is made again.
# Files are written under temporary names and renamed, so an interrupted
# run leaves no half-written pair.
tls_ok() { # tls_ok NAME: NAME.pem and NAME-key.pem exist and verify
    [ -s "$TLS/$1.pem" ] && [ -s "$TLS/$1-key.pem" ] &&
        openssl verify -CAfile "$TLS/ca.pem" "$TLS/$1.pem" > /dev/null 2>&1
}
tls_issue() { # tls_issue NAME SUBJECT EXTENSIONS
    local tmp=$TLS/.new-$1
    (umask 077 &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$tmp-key.pem" -out "$tmp.csr" -subj "$2" &&
        printf '%s\n' "$3" > "$tmp.ext" &&
        openssl x509 -req -in "$tmp.csr" -CA "$TLS/ca.pem" \
            -CAkey "$TLS/ca-key.pem" -set_serial "0x$(openssl rand -hex 8)" \
            -days 3650 -extfile "$tmp.ext" -out "$tmp.pem") \
        >> "$OS/logs/tls.log" 2>&1 || die "openssl: cannot make $1 (logs/tls.log)"
    chmod 644 "$tmp.pem"
    mv -f "$tmp-key.pem" "$TLS/$1-key.pem"
    mv -f "$tmp.pem" "$TLS/$1.pem"
    rm -f "$tmp.csr" "$tmp.ext"
}
command -v openssl > /dev/null || die "openssl is not installed"
mkdir -p "$TLS"
chmod 755 "$TLS"
if [ ! -s "$TLS/ca.pem" ] || [ ! -s "$TLS/ca-key.pem" ]; then
    (umask 077 &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$TLS/.new-ca-key.pem" -out "$TLS/.new-ca.pem" \
            -days 3650 -subj "/O=fabc lab/CN=fabc lab CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign") \
        >> "$OS/logs/tls.log" 2>&1 || die "openssl: cannot make the lab CA (logs/tls.log)"
    chmod 644 "$TLS/.new-ca.pem"
    mv -f "$TLS/.new-ca-key.pem" "$TLS/ca-key.pem"
    mv -f "$TLS/.new-ca.pem" "$TLS/ca.pem"
    say "lab CA created: $TLS/ca.pem"
fi
tls_ok server || tls_issue server "/O=fabc lab/CN=$LAB_HOST" \
    "subjectAltName=IP:$LAB_HOST,DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
tls_ok client || tls_issue client "/O=fabc lab/CN=fabc-lab-client" \
    "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
# Keystone restarts (its ini changes) when a certificate is made again
TLS_SUM=$(cat "$TLS/ca.pem" "$TLS/server.pem" | md5sum | cut -c1-32)

# ------------------------------------------------------------- configs
dburl() { echo "postgresql+psycopg2://$1:${1}dbpass@$LAB_HOST:$PG_PORT/$1"; }
ks_auth() { # ks_auth SECTION_USER: keystone_authtoken-style block
    cat <<EOT
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SVC_PASS
region_name = RegionOne
# cache token validations 3 s only: a revoked token fails soon after
# (tests/integration/test_cloud_auth.py waits that long)
token_cache_time = 3
EOT
}

cat > "$OS/etc/keystone/keystone.conf" <<EOT
[DEFAULT]
log_file = $OS/logs/keystone.log
[database]
connection = $(dburl keystone)
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $OS/etc/keystone/fernet-keys
[fernet_receipts]
key_repository = $OS/etc/keystone/fernet-keys
[credential]
key_repository = $OS/etc/keystone/credential-keys
[identity]
password_hash_rounds = 4
[cache]
enabled = false
EOT

cat > "$OS/etc/keystone/uwsgi.ini" <<EOT
[uwsgi]
plugins = python3
http-socket = $LAB_HOST:5000
# https; and https that requires a client certificate from the lab CA
# ("!": a client without one is refused). certificates: $TLS_SUM
https-socket = $LAB_HOST:5001,$TLS/server.pem,$TLS/server-key.pem
https-socket = $LAB_HOST:5002,$TLS/server.pem,$TLS/server-key.pem,HIGH,!$TLS/ca.pem
wsgi-file = /usr/bin/keystone-wsgi-public
env = OS_KEYSTONE_CONFIG_FILES=$OS/etc/keystone/keystone.conf
master = true
# two processes use both cores of a small machine (Python's GIL limits
# one process to one core); no token cache, so revocations are seen at once
processes = 2
threads = 4
enable-threads = true
lazy-apps = true
die-on-term = true
no-orphans = true
buffer-size = 65535
listen = 128
name = fabc-lab-keystone
pidfile = $OS/pids/keystone.pid
chdir = $OS
EOT

cat > "$OS/etc/heat/heat.conf" <<EOT
[DEFAULT]
log_file = $OS/logs/heat.log
transport_url = fake://
host = fabc-lab
num_engine_workers = 1
graceful_shutdown_timeout = 5
region_name_for_services = RegionOne
auth_encryption_key = fabc0123456789abcdef0123456789ab
heat_metadata_server_url = http://$LAB_HOST:8000
heat_waitcondition_server_url = http://$LAB_HOST:8000/v1/waitcondition
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $SVC_PASS
max_resources_per_stack = 1000
[heat_all]
enabled_services = api,engine
[database]
connection = $(dburl heat)
[heat_api]
bind_host = $LAB_HOST
bind_port = 8004
workers = 1
[paste_deploy]
api_paste_config = /etc/heat/api-paste.ini
[keystone_authtoken]
$(ks_auth heat)
[trustee]
auth_type = password
auth_url = $KS_URL
username = heat
password = $SVC_PASS
user_domain_name = Default
[clients_keystone]
auth_uri = http://$LAB_HOST:5000
[clients]
endpoint_type = publicURL
[ec2authtoken]
auth_uri = $KS_URL
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOT

cat > "$OS/etc/glance/glance-api.conf" <<EOT
[DEFAULT]
bind_host = $LAB_HOST
bind_port = 9292
workers = 0
log_file = $OS/logs/glance-api.log
graceful_shutdown_timeout = 5
enabled_backends = fs:file
show_image_direct_url = false
limit_param_default = 25
api_limit_max = 1000
[database]
connection = $(dburl glance)
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $OS/data/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $OS/data/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $OS/data/glance/tasks/
[keystone_authtoken]
$(ks_auth glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOT

# ------------------------------------------------------------- PostgreSQL
# The cluster must be reachable by the postgres user; a state directory
# under a private home is not, so then the cluster lives in /var/tmp.
PGDATA=$OS/data/pg
PGSOCK=$OS/pids/pg
if ! su postgres -s /bin/sh -c "test -x '$OS/data'" 2>/dev/null; then
    key=$(printf '%s' "$OS" | md5sum | cut -c1-12)
    PGDATA=/var/tmp/fabc-lab-pg-$key/data
    PGSOCK=/var/tmp/fabc-lab-pg-$key/sock
    echo "$PGDATA" > "$OS/pgdata.path"
fi
mkdir -p "$PGSOCK" "$(dirname "$PGDATA")"
chown postgres:postgres "$PGSOCK"
touch "$OS/logs/postgres.log"
chown postgres "$OS/logs/postgres.log"
echo "$PGDATA" > "$OS/pgdata.path"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PGDATA' -U postgres \
        -A trust -E UTF8 --locale=C.UTF-8" >> "$OS/logs/initdb.log" 2>&1 \
        || die "initdb failed (see $OS/logs/initdb.log)"
    cat >> "$PGDATA/postgresql.conf" <<EOT
listen_addresses = '$LAB_HOST'
port = $PG_PORT
unix_socket_directories = '$PGSOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 200
EOT
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' \
        > "$PGDATA/pg_hba.conf"
    say "postgres cluster created"
fi
PGLOG=$OS/logs/postgres.log
if su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PGDATA' status" \
        > /dev/null 2>&1; then
    say "postgres already running"
else
    need_free "$PG_PORT"
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PGDATA' -l '$PGLOG' \
        -w -t 60 start" > /dev/null || die "postgres did not start"
    say "postgres started on $LAB_HOST:$PG_PORT"
fi
head -1 "$PGDATA/postmaster.pid" > "$OS/pids/postgres.pid"
psql_q() {
    psql -X -q -h "$LAB_HOST" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 \
        "$@"
}
for db in keystone heat glance; do
    [ "$(psql_q -tAc "SELECT 1 FROM pg_roles WHERE rolname='$db'")" = 1 ] ||
        psql_q -c "CREATE ROLE $db LOGIN PASSWORD '${db}dbpass'"
    [ "$(psql_q -tAc "SELECT 1 FROM pg_database WHERE datname='$db'")" = 1 ] ||
        psql_q -c "CREATE DATABASE $db OWNER $db"
done

# ------------------------------------------------------------- Heat, Glance
# db_sync and start in the background while Keystone comes up: their APIs
# only call Keystone when a request arrives. A stamp per service skips
# db_sync on a warm start.
synced() { [ "$(cat "$OS/data/$1.synced" 2>/dev/null)" = "$2" ]; }
start_heat() {
    local v
    v=$(dpkg-query -W -f='${Version}' heat-engine)
    if ! synced heat "$v"; then
        manage heat-manage --config-file "$OS/etc/heat/heat.conf" db_sync \
            || { say "heat db_sync failed (logs/manage.log)"; return 1; }
        echo "$v" > "$OS/data/heat.synced"
    fi
    stale heat-all heat-all INT "$OS/etc/heat/heat.conf" 8004
    if ! running heat-all heat-all; then
        need_free 8004
        daemon heat-all heat-all --config-file "$OS/etc/heat/heat.conf"
    fi
}
start_glance() {
    local v
    v=$(dpkg-query -W -f='${Version}' glance-api)
    if ! synced glance "$v"; then
        manage glance-manage --config-file "$OS/etc/glance/glance-api.conf" \
            db_sync || { say "glance db_sync failed (logs/manage.log)"; return 1; }
        echo "$v" > "$OS/data/glance.synced"
    fi
    stale glance-api glance-api TERM "$OS/etc/glance/glance-api.conf" 9292
    if ! running glance-api glance-api; then
        need_free 9292
        daemon glance-api glance-api \
            --config-file "$OS/etc/glance/glance-api.conf"
    fi
}
start_heat & HEAT_JOB=$!
start_glance & GLANCE_JOB=$!

# ------------------------------------------------------------- Keystone
KM="keystone-manage --config-file $OS/etc/keystone/keystone.conf"
KVER=$(dpkg-query -W -f='${Version}' keystone)
if ! synced keystone "$KVER"; then
    manage $KM db_sync || die "keystone db_sync failed (logs/manage.log)"
fi
if [ ! -s "$OS/etc/keystone/fernet-keys/0" ]; then
    mkdir -p "$OS/etc/keystone/fernet-keys" "$OS/etc/keystone/credential-keys"
    chmod 700 "$OS/etc/keystone/fernet-keys" "$OS/etc/keystone/credential-keys"
    manage $KM fernet_setup --keystone-user root --keystone-group root
    manage $KM credential_setup --keystone-user root --keystone-group root
fi
if ! synced keystone "$KVER"; then
    manage $KM bootstrap --bootstrap-password "$ADMIN_PASS" \
        --bootstrap-username admin --bootstrap-project-name admin \
        --bootstrap-role-name admin --bootstrap-service-name keystone \
        --bootstrap-region-id RegionOne --bootstrap-admin-url "$KS_URL" \
        --bootstrap-public-url "$KS_URL" --bootstrap-internal-url "$KS_URL" \
        || die "keystone bootstrap failed (logs/manage.log)"
fi
stale keystone 'uwsgi.*keystone' INT "$OS/etc/keystone/uwsgi.ini" \
    5000 5001 5002
if running keystone 'uwsgi.*keystone'; then
    say "keystone already running"
else
    need_free 5000 5001 5002
    $CLEAN_ENV uwsgi --ini "$OS/etc/keystone/uwsgi.ini" \
        --daemonize2 "$OS/logs/keystone-uwsgi.log" \
        >> "$OS/logs/keystone-uwsgi.log" 2>&1
fi
wait_code "$KS_URL" 200 60 || die "keystone not answering (logs/keystone*)"
wait_code "$KS_TLS_URL" 200 10 --cacert "$TLS/ca.pem" ||
    die "keystone not answering on $KS_TLS_URL (logs/keystone*)"
wait_code "$KS_MTLS_URL" 200 10 --cacert "$TLS/ca.pem" \
    --cert "$TLS/client.pem" --key "$TLS/client-key.pem" ||
    die "keystone not answering on $KS_MTLS_URL (logs/keystone*)"
say "keystone answering on $KS_URL, $KS_TLS_URL, $KS_MTLS_URL"
if ! synced keystone "$KVER"; then
    $CLEAN_ENV KS_URL="$KS_URL" LAB_HOST=$LAB_HOST ADMIN_PASS="$ADMIN_PASS" \
        SVC_PASS="$SVC_PASS" DEMO_PASS="$DEMO_PASS" \
        "$PY" "$HERE/openstack/ks-bootstrap.py" >&2 \
        || die "keystone objects could not be created"
    echo "$KVER" > "$OS/data/keystone.synced"
fi
wait $HEAT_JOB || die "heat did not start"
wait $GLANCE_JOB || die "glance did not start"

# ------------------------------------------------------------- credentials
# The user and its project share a name (demo, admin).
openrc() { # openrc USER PASSWORD: an openrc file for USER
    cat <<EOT
# fabc lab: $1 user and project (source this file)
export OS_AUTH_URL=$KS_URL
export OS_IDENTITY_API_VERSION=3
export OS_AUTH_TYPE=password
export OS_USERNAME=$1
export OS_PASSWORD=$2
export OS_PROJECT_NAME=$1
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
EOT
}
cloud() { # cloud NAME AUTH_URL USER PASSWORD: one clouds.yaml entry
    cat <<EOT
  $1:
    auth:
      auth_url: $2
      username: $3
      password: $4
      project_name: $3
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOT
}
openrc demo "$DEMO_PASS" > "$RUNDIR/openrc"
openrc admin "$ADMIN_PASS" > "$RUNDIR/admin-openrc"
{
    echo "# fabc lab clouds (OS_CLIENT_CONFIG_FILE=$RUNDIR/clouds.yaml)"
    echo "clouds:"
    cloud fabc-lab "$KS_URL" demo "$DEMO_PASS"
    cloud fabc-lab-admin "$KS_URL" admin "$ADMIN_PASS"
    cloud fabc-lab-tls "$KS_TLS_URL" demo "$DEMO_PASS"
    echo "    cacert: $TLS/ca.pem"
    cloud fabc-lab-mtls "$KS_MTLS_URL" demo "$DEMO_PASS"
    echo "    cacert: $TLS/ca.pem"
    echo "    cert: $TLS/client.pem"
    echo "    key: $TLS/client-key.pem"
} > "$RUNDIR/clouds.yaml"
chmod 600 "$RUNDIR/openrc" "$RUNDIR/admin-openrc" "$RUNDIR/clouds.yaml"

# ------------------------------------------------------------- readiness
AUTH="{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":\
{\"user\":{\"name\":\"demo\",\"domain\":{\"name\":\"Default\"},\
\"password\":\"$DEMO_PASS\"}}},\"scope\":{\"project\":{\"name\":\"demo\",\
\"domain\":{\"name\":\"Default\"}}}}}"
TOKFILE=$OS/pids/.ready.json
HDRS=$(curl -s -D - -o "$TOKFILE" -X POST "$KS_URL/auth/tokens" \
    -H 'Content-Type: application/json' -d "$AUTH")
TOKEN=$(printf '%s\n' "$HDRS" | awk 'tolower($1)=="x-subject-token:"{print $2}' \
    | tr -d '\r')
[ -n "$TOKEN" ] || die "the demo user cannot get a token"
PROJ=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"]["project"]["id"])' "$TOKFILE")
rm -f "$TOKFILE"
wait_code "http://$LAB_HOST:8004/v1/$PROJ/stacks" 200 90 \
    -H "X-Auth-Token: $TOKEN" || die "heat not answering (logs/heat.log)"
say "heat answering on http://$LAB_HOST:8004"
wait_code "http://$LAB_HOST:9292/v2/images" 200 60 \
    -H "X-Auth-Token: $TOKEN" || die "glance not answering (logs/glance-api.log)"
say "glance answering on http://$LAB_HOST:9292"
say "ready: source $RUNDIR/openrc or OS_CLIENT_CONFIG_FILE=$RUNDIR/clouds.yaml OS_CLOUD=fabc-lab"
say "TLS: Keystone $KS_TLS_URL and (client certificate) $KS_MTLS_URL, CA $TLS/ca.pem, client $TLS/client.pem + client-key.pem"
