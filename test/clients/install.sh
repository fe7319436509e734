#!/usr/bin/env bash
# Installs the AWS clients the client tests (cmd/shoal/clients_test.go) run against `shoal local`
# with their default settings, each only when missing:
#   - the Node AWS SDK v3 (@aws-sdk/client-kinesis, @aws-sdk/client-dynamodb) with `npm ci`,
#     pinned by package-lock.json (reinstalled when the lock file changes);
#   - boto3: Debian's python3-boto3, when no python3 on PATH (nor /usr/bin/python3) imports it;
#   - the AWS CLI: Debian's awscli, when `aws` is not on PATH.
# apt-get runs directly as root, through sudo otherwise.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "clients: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed (need Node 18+ and npm)"
command -v npm >/dev/null || die "npm is not installed"
lock_hash() {
  node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$DIR/package-lock.json"
}
stamp="$DIR/node_modules/.shoal-lock-sha256"
want="$(lock_hash)"
if [[ ! -d "$DIR/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "clients: npm ci (Node AWS SDK v3, pinned by package-lock.json)"
  (cd "$DIR" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error </dev/null) || die "npm ci failed in $DIR"
  printf '%s' "$want" >"$stamp"
fi

apt_pkgs=()
has_boto3() { "$1" -c 'import boto3' >/dev/null 2>&1; }
if ! { command -v python3 >/dev/null && has_boto3 python3; } && ! { [[ -x /usr/bin/python3 ]] && has_boto3 /usr/bin/python3; }; then
  apt_pkgs+=(python3-boto3)
fi
command -v aws >/dev/null || apt_pkgs+=(awscli)
if ((${#apt_pkgs[@]})); then
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install ${apt_pkgs[*]}"
    sudo=(sudo)
  fi
  echo "clients: apt-get install ${apt_pkgs[*]}"
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null ||
    die "apt-get install ${apt_pkgs[*]} failed"
fi
