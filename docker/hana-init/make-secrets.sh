#!/bin/sh
# Creates the local secrets of docker/compose.yaml once, on the host, before the first
# `docker compose up`: docker/.env (passwords of the router's two HANA users, the dashboard
# session key) and docker/secrets/hxe-passwords.json (HANA Express's master password, read by
# --passwords-url). Existing files are never overwritten. Neither file is in git or in the image.
#
# secrets/ is private to you (0700); the file inside is 0644 because two containers with other
# uids read it through the bind mount: HANA Express (hxeadm, uid 12000) and the init job (10001).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
umask 077

# 24 random letters and digits plus "Aa1": HANA's default policy wants upper, lower and digit.
password() {
    printf '%sAa1' "$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24)"
}

if [ ! -f "$here/.env" ]; then
    cat >"$here/.env" <<EOF
# Secrets of docker/compose.yaml (made by hana-init/make-secrets.sh; keep out of git).
ROUTER_OWNER_PASSWORD=$(password)
ROUTER_SERVICE_PASSWORD=$(password)
MODEL_ROUTER_SECRET_KEY=$(password)$(password)
EOF
    echo "wrote $here/.env"
fi

mkdir -p "$here/secrets"
chmod 0700 "$here/secrets"
if [ ! -f "$here/secrets/hxe-passwords.json" ]; then
    printf '{"master_password": "%s"}\n' "$(password)" >"$here/secrets/hxe-passwords.json"
    chmod 0644 "$here/secrets/hxe-passwords.json"
    echo "wrote $here/secrets/hxe-passwords.json"
fi
