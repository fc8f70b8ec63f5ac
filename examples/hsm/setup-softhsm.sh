#!/bin/sh
# A SoftHSM 2 token for the HSM example, in a directory of its own:
#   sh setup-softhsm.sh [DIR]          (default: ./.softhsm)
# Makes an RSA-2048 key and a self-signed certificate with openssl, imports the
# key into the token as a sensitive, NON-extractable object (softhsm2-util
# --import), the certificate under the same CKA_ID (pkcs11-tool), then deletes
# the key file: from here on the key exists only in the token.
# Prints the two lines to export: SOFTHSM2_CONF and HSM_URI (a PKCS#11 URI
# whose PIN is read from a file, pin-source=file:…).
# Needs: apt-get install softhsm2 opensc openssl
set -eu
DIR=$(mkdir -p "${1:-.softhsm}" && cd "${1:-.softhsm}" && pwd)
MODULE=${PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
LABEL=${HSM_TOKEN_LABEL:-daemon}
[ -f "$MODULE" ] || { echo "SoftHSM module not found at $MODULE: apt-get install softhsm2 opensc" >&2; exit 1; }
umask 077
mkdir -p "$DIR/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$DIR" > "$DIR/softhsm2.conf"
export SOFTHSM2_CONF="$DIR/softhsm2.conf"
# A random user PIN, kept in a file only the owner reads; the SO PIN is thrown away.
PIN=$(openssl rand -hex 12)
printf '%s\n' "$PIN" > "$DIR/pin"
softhsm2-util --init-token --free --label "$LABEL" --pin "$PIN" --so-pin "$(openssl rand -hex 12)" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/key.pem" -out "$DIR/client-cert.pem" -subj "/CN=$LABEL" -days 365 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$DIR/key.pem" -out "$DIR/key.p8"
softhsm2-util --import "$DIR/key.p8" --token "$LABEL" --label client-key --id 01 --pin "$PIN" >/dev/null
rm -f "$DIR/key.pem" "$DIR/key.p8"
openssl x509 -in "$DIR/client-cert.pem" -outform der -out "$DIR/client-cert.der"
pkcs11-tool --module "$MODULE" --token-label "$LABEL" --login --pin "$PIN" \
  --write-object "$DIR/client-cert.der" --type cert --id 01 --label client-cert >/dev/null
echo "export SOFTHSM2_CONF=$DIR/softhsm2.conf"
echo "export HSM_URI='pkcs11:token=$LABEL;object=client-key;type=private?module-path=$MODULE&pin-source=file:$DIR/pin'"
