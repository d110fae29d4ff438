#!/usr/bin/env bash
# Makes a self-signed certificate for 127.0.0.1 and localhost: OUTDIR/cert.pem and OUTDIR/key.pem.
# Usage: tests/peers/make_cert.sh OUTDIR
set -euo pipefail
out="${1:?usage: make_cert.sh OUTDIR}"
command -v openssl >/dev/null 2>&1 || { echo "make_cert.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
echo "$out/cert.pem $out/key.pem"
