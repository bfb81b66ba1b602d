#!/bin/sh
# tests/lab/sshd.sh — real OpenSSH sshd on loopback standing in for Windows servers.
#
#   tests/lab/sshd.sh start WORKDIR [PORT [ADDRESS...]]   (default auto 127.0.22.1)
#
# PORT "auto" picks a free port in 20000-39999 (another run of the same spec, e.g. a
# colleague's `make test`, may hold the addresses on a fixed port at the same moment).
#   tests/lab/sshd.sh stop WORKDIR
#
# sshd listens on every ADDRESS (one emulated server each; one sshd process per 16
# addresses, OpenSSH's MAX_LISTEN_SOCKS), all with one host key of each type in
# $SSHD_HOST_KEY_TYPES (default "ed25519"; e.g. "ecdsa" for a server that offers only ECDSA);
# known_hosts= and host_key= are the first type's. $SSHD_EXTRA_CONFIG (optional) is appended
# to the configuration, e.g. "AllowTcpForwarding no". Client keys, ed25519
# (libssh2 1.10 signs RSA with SHA-1, which OpenSSH 9.2 refuses):
#   WORKDIR/shell_key   runs the command it is given (for the SSH transport tests);
#   WORKDIR/lync_key    runs tests/lab/lync-emulator instead (the command arrives in
#                       SSH_ORIGINAL_COMMAND), state in WORKDIR/state/ADDRESS.json,
#                       counters in WORKDIR/state/ADDRESS.counters, server costs from
#                       $LYNC_EMULATOR_COSTS ("0.5,3": process start, Lync module load, s)
#                       or "default" when unset, written to WORKDIR/state/costs;
#   WORKDIR/locked_key  the lync key protected by the passphrase "lab passphrase".
# Prints pid= (the first sshd), pids=, port=, addresses=, user=, shell_key=, lync_key=,
# locked_key=, known_hosts= (the server's key for every address), state_dir=, host_key=.
set -eu
verb=$1
dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
host_key_types=${SSHD_HOST_KEY_TYPES:-ed25519}
host_key=$dir/ssh_host_${host_key_types%% *}_key.pub

. "$root/tests/lab/common.sh"

stop() { stop_pids "$dir/sshd.pids"; }

# launch N ADDRESS...: writes the config of the Nth sshd process and starts it
launch() {
  n=$1; shift
  {
    for address in "$@"; do echo "ListenAddress $address:$port"; done
    for type in $host_key_types; do echo "HostKey $dir/ssh_host_${type}_key"; done
    cat <<EOF
PidFile $dir/sshd.$n.pid
AuthorizedKeysFile $dir/authorized_keys/%u
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
MaxStartups 200:30:400
MaxSessions 100
MaxAuthTries 10
LoginGraceTime 30
EOF
    [ -z "${SSHD_EXTRA_CONFIG:-}" ] || printf '%s\n' "$SSHD_EXTRA_CONFIG"
  } >"$dir/sshd_config.$n"
  /usr/sbin/sshd -D -e -f "$dir/sshd_config.$n" </dev/null >"$dir/sshd.$n.log" 2>&1 &
  echo $! >>"$dir/sshd.pids"
}

# listening N COUNT: 0 once the Nth sshd listens on all COUNT addresses, 1 while it may
# still, 2 when it failed (a port taken, or it died)
listening() {
  log=$dir/sshd.$1.log
  if grep -q "Bind to port .* failed\|Cannot bind" "$log"; then return 2; fi
  [ "$(grep -c "Server listening on" "$log")" -ge "$2" ] && return 0
  pid=$(sed -n "${1}p" "$dir/sshd.pids")
  kill -0 "$pid" 2>/dev/null || return 2
  return 1
}

# launch_all ADDRESS...: one sshd per 16 addresses; 0 when all listen, 1 if a port was taken
launch_all() {
  : >"$dir/sshd.pids"
  n=0; group=""; count=0; counts=""
  for address in "$@"; do
    group="$group $address"
    count=$((count + 1))
    if [ $count -eq 16 ]; then
      n=$((n + 1)); launch $n $group; counts="$counts $count"; group=""; count=0
    fi
  done
  [ -z "$group" ] || { n=$((n + 1)); launch $n $group; counts="$counts $count"; }
  i=0
  for count in $counts; do
    i=$((i + 1))
    tries=0
    while :; do
      status=0; listening $i "$count" || status=$?
      [ $status -eq 0 ] && break
      if [ $status -eq 2 ] || [ $tries -ge 100 ]; then stop; return 1; fi
      tries=$((tries + 1))
      sleep 0.05
    done
  done
  return 0
}

start() {
  port=${1:-auto}
  [ $# -gt 0 ] && shift
  [ $# -gt 0 ] || set -- 127.0.22.1
  user=$(id -un)
  mkdir -p /run/sshd "$dir/state" "$dir/authorized_keys"
  # the emulated servers' costs (lab.emulator.costs): sshd passes the forced command no
  # environment of ours, so they travel in the state directory
  printf '%s\n' "${LYNC_EMULATOR_COSTS:-default}" >"$dir/state/costs"
  for type in $host_key_types; do
    ssh-keygen -q -t "$type" -N '' -C lab-host -f "$dir/ssh_host_${type}_key"
  done
  ssh-keygen -q -t ed25519 -N '' -C lab-shell -f "$dir/shell_key"
  ssh-keygen -q -t ed25519 -N '' -C lab-lync -f "$dir/lync_key"
  cp "$dir/lync_key" "$dir/locked_key"
  ssh-keygen -q -p -N 'lab passphrase' -f "$dir/locked_key" >/dev/null
  chmod 755 "$dir" "$dir/authorized_keys"
  {
    cat "$dir/shell_key.pub"
    echo "command=\"$root/tests/lab/lync-emulator $dir/state\",restrict $(cat "$dir/lync_key.pub")"
  } >"$dir/authorized_keys/$user"
  chmod 644 "$dir/authorized_keys/$user"
  wanted=$port
  attempt=0
  while :; do
    [ "$wanted" = auto ] && port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
    launch_all "$@" && break
    attempt=$((attempt + 1))
    if [ "$wanted" != auto ] || [ $attempt -ge 10 ]; then
      echo "sshd could not listen on port $port of $*" >&2
      cat "$dir"/sshd.*.log >&2
      exit 1
    fi
  done
  : >"$dir/known_hosts"
  for address in "$@"; do
    echo "[$address]:$port $(cut -d' ' -f1,2 "$host_key")" >>"$dir/known_hosts"
  done
  # ready when every address sends its SSH banner and host key (deadline 10 s each)
  for address in "$@"; do
    tries=0
    key=$(cut -d' ' -f2 "$host_key")
    until ssh-keyscan -T 1 -p "$port" "$address" 2>/dev/null | grep -qF "$key"; do
      tries=$((tries + 1))
      if [ $tries -ge 50 ]; then
        echo "sshd did not answer on $address:$port" >&2
        tail -20 "$dir"/sshd.*.log >&2
        stop
        exit 1
      fi
      sleep 0.2
    done
  done
  echo "pid=$(head -1 "$dir/sshd.pids")"
  echo "pids=$(tr '\n' ' ' <"$dir/sshd.pids")"
  echo "port=$port"
  echo "addresses=$*"
  echo "user=$user"
  echo "shell_key=$dir/shell_key"
  echo "lync_key=$dir/lync_key"
  echo "locked_key=$dir/locked_key"
  echo "known_hosts=$dir/known_hosts"
  echo "state_dir=$dir/state"
  echo "host_key=$host_key"
}

case $verb in
  start) shift 2; start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop WORKDIR [PORT [ADDRESS...]]" >&2; exit 2 ;;
esac
