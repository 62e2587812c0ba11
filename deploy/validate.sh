#!/usr/bin/env bash
# Offline validation of deploy/: renders both Kubernetes overlays (and checks
# them against `kubectl kustomize` when kubectl is installed), validates every
# object against the Kubernetes JSON schemas bundled in the PyPI package
# kubernetes-validate (strict, Kubernetes $KUBE_VERSION, default 1.30.0),
# checks the deployment rules, runs `portcullis check` on deploy/config and on
# what each overlay's Pods mount, and checks the Grafana dashboard and the
# Dockerfile's COPY sources. Details: deploy/tools/validate.py.
#
#   deploy/validate.sh                        # builds target/debug/portcullis first
#   PORTCULLIS_NO_BUILD=1 deploy/validate.sh  # use the binary already built
#   PORTCULLIS_BIN=path/to/portcullis deploy/validate.sh
#
# Python deps go to a venv under target/deploy-venv (pinned; from PyPI the
# first time, offline afterwards). Exit status non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/target/deploy-venv"
OUT="$ROOT/target/deploy-validate"
REQUIREMENTS=(kubernetes-validate==1.37.0 PyYAML==6.0.3)

python="$(command -v python3 || true)"
[ -n "$python" ] || { echo "deploy/validate.sh: python3 is needed" >&2; exit 1; }

stamp="$VENV/.requirements"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]; then
  echo "== python venv $VENV (${REQUIREMENTS[*]})"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "${REQUIREMENTS[*]}" >"$stamp"
fi

if [ -n "${PORTCULLIS_BIN:-}" ]; then
  bin="$PORTCULLIS_BIN"
else
  bin="$ROOT/target/debug/portcullis"
  if [ "${PORTCULLIS_NO_BUILD:-}" != 1 ]; then
    echo "== cargo build -p portcullis"
    cargo build -q -p portcullis --bin portcullis
  fi
fi
[ -x "$bin" ] || { echo "deploy/validate.sh: no portcullis binary at $bin" >&2; exit 1; }

exec "$VENV/bin/python" "$ROOT/deploy/tools/validate.py" "$bin" "$OUT"
