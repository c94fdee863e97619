#!/bin/sh
# sshd-start.sh — start the lab's sshd test hosts on loopback.
#
# N hosts on 127.0.0.10, 127.0.0.11, ... (past 127.0.0.249: 127.0.1.1..),
# all on one unprivileged port, served by ceil(N/16) `sshd -D` instances
# (sshd takes at most 16 ListenAddress lines). Everything lives under
# $SSH_LAB_DIR (default tests/lab/run/ssh, gitignored):
#
#   id_ed25519 id_rsa id_ecdsa     client keys (no passphrase)
#   id_enc                         ed25519 key encrypted with "keypass"
#   authorized_keys                all of the above
#   ssh_host_ed25519_key           the hosts' key
#   known_hosts, known_hosts.hashed  [addr]:port entries for every host
#   ssh_config                     for OpenSSH/pssh/Fabric peers
#   hosts.txt                      one address per line
#   home/                          the remote HOME (Debian's /etc/skel)
#   sshd.K.conf sshd.K.pid sshd.K.log
#
# Environment: SSH_LAB_HOSTS (16), SSH_LAB_PORT (2222), SSH_LAB_DIR,
# SSH_LAB_FIRST (10, last octet of the first host), SSH_LAB_V6 (1: the
# last instance also listens on [::1] when it has room).
# When run as root it also creates the user `fabclab` (password LabPass1,
# may sudo with its password) for the sudo/password tests.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dir=${SSH_LAB_DIR:-$here/run/ssh}
n=${SSH_LAB_HOSTS:-16}
port=${SSH_LAB_PORT:-2222}
first=${SSH_LAB_FIRST:-10}
sshd=/usr/sbin/sshd

case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
mkdir -p "$dir" "$dir/home"
chmod 755 "$dir"
cd "$dir"

if [ -s sshd.0.pid ] && kill -0 "$(cat sshd.0.pid)" 2>/dev/null &&
   tr '\0' ' ' < "/proc/$(cat sshd.0.pid)/cmdline" 2>/dev/null |
       grep -q "sshd -D -f $dir/"; then
    echo "sshd lab already running in $dir"
    exit 0
fi

umask 022
[ -f ssh_host_ed25519_key ] ||
    ssh-keygen -q -t ed25519 -N '' -C labhost -f ssh_host_ed25519_key
[ -f id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -C lab -f id_ed25519
[ -f id_rsa ] || ssh-keygen -q -t rsa -b 2048 -N '' -C lab-rsa -f id_rsa
[ -f id_ecdsa ] || ssh-keygen -q -t ecdsa -b 256 -N '' -C lab-ecdsa -f id_ecdsa
[ -f id_enc ] || ssh-keygen -q -t ed25519 -N keypass -C lab-enc -f id_enc
chmod 600 ssh_host_ed25519_key id_ed25519 id_rsa id_ecdsa id_enc
cat id_ed25519.pub id_rsa.pub id_ecdsa.pub id_enc.pub > authorized_keys
chmod 644 authorized_keys
if [ ! -f home/.profile ]; then
    cp -a /etc/skel/. home/ 2>/dev/null || true
    # bash -l runs .bash_logout (clear_console) at exit: not on test hosts
    rm -f home/.bash_logout
fi

addr_of() {
    i=$(( $1 + first ))
    if [ "$i" -lt 250 ]; then echo "127.0.0.$i"
    else
        j=$(( i - 250 ))
        echo "127.0.$(( 1 + j / 250 )).$(( 1 + j % 250 ))"
    fi
}

if [ "$(id -u)" = 0 ] && ! getent passwd fabclab >/dev/null 2>&1; then
    useradd -m -s /bin/bash fabclab 2>/dev/null || true
    echo 'fabclab:LabPass1' | chpasswd 2>/dev/null || true
fi
if [ "$(id -u)" = 0 ] && [ -d /etc/sudoers.d ] &&
   [ ! -f /etc/sudoers.d/fabclab ]; then
    echo 'fabclab ALL=(ALL:ALL) ALL' > /etc/sudoers.d/fabclab
    chmod 440 /etc/sudoers.d/fabclab
fi
mkdir -p /run/sshd 2>/dev/null || true

hostkey=$(cut -d' ' -f1,2 ssh_host_ed25519_key.pub)
: > hosts.txt
: > known_hosts
i=0
while [ "$i" -lt "$n" ]; do
    a=$(addr_of "$i")
    echo "$a" >> hosts.txt
    echo "[$a]:$port $hostkey" >> known_hosts
    i=$(( i + 1 ))
done
ninst=$(( (n + 15) / 16 ))
v6=0
if [ "${SSH_LAB_V6:-0}" = 1 ] && [ $(( n % 16 )) -ne 0 ]; then
    v6=1
    echo "[::1]:$port $hostkey" >> known_hosts
fi
cp known_hosts known_hosts.hashed
ssh-keygen -q -H -f known_hosts.hashed >/dev/null 2>&1
rm -f known_hosts.hashed.old

cat > ssh_config <<CFG
Host 127.0.* ::1
    Port $port
    User root
    IdentityFile $dir/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    StrictHostKeyChecking yes
    LogLevel ERROR
CFG

k=0
while [ "$k" -lt "$ninst" ]; do
    conf=sshd.$k.conf
    {
        echo "Port $port"
        j=0
        while [ "$j" -lt 16 ] && [ $(( k * 16 + j )) -lt "$n" ]; do
            echo "ListenAddress $(addr_of $(( k * 16 + j ))):$port"
            j=$(( j + 1 ))
        done
        if [ "$v6" = 1 ] && [ "$k" -eq $(( ninst - 1 )) ]; then
            echo "ListenAddress [::1]:$port"
        fi
        cat <<CFG
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.$k.pid.sshd
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
UsePAM no
StrictModes no
UseDNS no
MaxStartups 4000:100:4000
MaxSessions 1000
MaxAuthTries 30
LoginGraceTime 60
ClientAliveInterval 0
LogLevel ERROR
PrintMotd no
PrintLastLog no
SetEnv HOME=$dir/home
Subsystem sftp internal-sftp
CFG
    } > "$conf"
    chmod 644 "$conf"
    "$sshd" -D -f "$dir/$conf" -E "$dir/sshd.$k.log" \
        </dev/null >/dev/null 2>&1 &
    echo $! > "sshd.$k.pid"
    k=$(( k + 1 ))
done

# Wait (at most 10 s) until every instance accepts connections.
k=0
while [ "$k" -lt "$ninst" ]; do
    a=$(addr_of $(( k * 16 )))
    t=0
    until /usr/bin/python3 - "$a" "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5)
s.close()
PY
    do
        t=$(( t + 1 ))
        if [ "$t" -ge 100 ] || ! kill -0 "$(cat sshd.$k.pid)" 2>/dev/null; then
            echo "sshd instance $k did not start; see $dir/sshd.$k.log" >&2
            cat "$dir/sshd.$k.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    k=$(( k + 1 ))
done
echo "sshd lab: $n hosts on port $port ($ninst sshd), state in $dir"
