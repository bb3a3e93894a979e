#!/bin/bash
# Health check of the HANA Express container (compose.yaml mounts this directory at /hana-init):
# healthy when the tenant database HXE answers SELECT 1 FROM DUMMY on its SQL port, as SYSTEM,
# through the hdbsql client that ships in the image. The password comes from the same
# --passwords-url file that HANA Express was started with.
set -eo pipefail

passwords=${HXE_PASSWORDS_FILE:-/run/secrets/hxe_passwords}
port=${HXE_TENANT_SQL_PORT:-39041}

field() {  # the value of one "key": "value" pair of the (one-level) JSON passwords file
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$passwords" | head -n 1
}

password=$(field default_tenant_system_user_password)
if [ -z "$password" ]; then
    password=$(field master_password)
fi
if [ -z "$password" ]; then
    echo "no master_password in $passwords" >&2
    exit 1
fi

# hdbenv.sh sets PATH and the library path of the instance (HXE, instance 90).
# shellcheck disable=SC1091
. /usr/sap/HXE/HDB90/hdbenv.sh >/dev/null
exec hdbsql -n "localhost:$port" -u SYSTEM -p "$password" -a -x "SELECT 1 FROM DUMMY" >/dev/null
