#!/usr/bin/env bash
# OpenSSH's sshd + sftp-server on a loopback port, with one key-only user, for the HotWax e2e tests.
#
#   .ci/openssh.sh [start] [STATE_DIR]   installs openssh-server + openssh-sftp-server if missing
#                                        (apt-get; needs root), starts sshd, prints one line: the
#                                        Airflow connection JSON (AIRFLOW_CONN_* form) for the user
#   .ci/openssh.sh stop [STATE_DIR]      stops that sshd (by its pid file)
#
# STATE_DIR (default /tmp/po-sync-openssh) holds the sshd config, host key, client key, pid and log.
# The user (PO_SYNC_OPENSSH_USER, default hotwax) has no password, key auth only, sftp-server only,
# and HotWax's folders under its home (netsuite/purchaseorder/...). Everything but the JSON goes to
# stderr, so: export PO_SYNC_OPENSSH_CONN="$(.ci/openssh.sh)"
set -euo pipefail

ACTION=start
if [[ "${1:-}" == start || "${1:-}" == stop ]]; then ACTION=$1; shift; fi
STATE=${1:-${PO_SYNC_OPENSSH_DIR:-/tmp/po-sync-openssh}}
USER_NAME=${PO_SYNC_OPENSSH_USER:-hotwax}
SSHD=/usr/sbin/sshd
SFTP_SERVER=/usr/lib/openssh/sftp-server

log() { echo "[openssh] $*" >&2; }

if [[ $ACTION == stop ]]; then
  if [[ -f $STATE/sshd.pid ]]; then
    kill "$(cat "$STATE/sshd.pid")" 2>/dev/null || true
    rm -f "$STATE/sshd.pid"
    log "stopped"
  fi
  exit 0
fi

if [[ $(id -u) != 0 ]]; then log "must run as root (creates a user, installs packages)"; exit 1; fi

if [[ ! -x $SSHD || ! -x $SFTP_SERVER ]]; then
  log "installing openssh-server and openssh-sftp-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends openssh-server openssh-sftp-server >&2
fi

mkdir -p "$STATE" /run/sshd
chmod 0755 /run/sshd
chmod 0700 "$STATE"

if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$USER_NAME"
fi
usermod -p '*' "$USER_NAME"  # no password, but not locked ('!'), so key auth is allowed without PAM
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)

[[ -f $STATE/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C po-sync-ci-host -f "$STATE/ssh_host_ed25519_key"
[[ -f $STATE/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "$USER_NAME@po-sync-ci" -f "$STATE/client_ed25519"

install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$HOME_DIR/.ssh"
install -m 0600 -o "$USER_NAME" -g "$USER_NAME" "$STATE/client_ed25519.pub" "$HOME_DIR/.ssh/authorized_keys"
for dir in fulfillment/archive receipt/archive receipt/error; do
  install -d -m 0755 -o "$USER_NAME" -g "$USER_NAME" "$HOME_DIR/netsuite" "$HOME_DIR/netsuite/purchaseorder" \
    "$HOME_DIR/netsuite/purchaseorder/${dir%%/*}" "$HOME_DIR/netsuite/purchaseorder/$dir"
done

if [[ -f $STATE/sshd.pid ]] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; then
  PORT=$(cat "$STATE/port")
  log "already running on 127.0.0.1:$PORT"
else
  PORT=${PO_SYNC_OPENSSH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  cat > "$STATE/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pid
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $USER_NAME
UsePAM no
StrictModes yes
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
Subsystem sftp $SFTP_SERVER
ForceCommand $SFTP_SERVER
CONF
  "$SSHD" -t -f "$STATE/sshd_config"
  "$SSHD" -f "$STATE/sshd_config" -E "$STATE/sshd.log"
  echo "$PORT" > "$STATE/port"
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2).close()" 2>/dev/null && break
    sleep 0.1
  done
  log "sshd listening on 127.0.0.1:$PORT (pid $(cat "$STATE/sshd.pid"), log $STATE/sshd.log)"
fi

HOST_KEY=$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")
python3 - "$PORT" "$USER_NAME" "$STATE/client_ed25519" "$HOST_KEY" <<'PY'
import json, sys
port, user, key_file, host_key = sys.argv[1:]
print(json.dumps({
    "conn_type": "sftp", "host": "127.0.0.1", "port": int(port), "login": user,
    "extra": {"key_file": key_file, "host_key": host_key, "no_host_key_check": False,
              "look_for_keys": False, "conn_timeout": 10},
}))
PY
