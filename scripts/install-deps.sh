#!/usr/bin/env bash
# Installs the Debian packages ml2tuner builds against, if any is missing.
set -euo pipefail
packages=(cmake g++ make pkg-config libxgboost-dev nlohmann-json3-dev libcli11-dev
          libsqlite3-dev zlib1g-dev libgtest-dev libbenchmark-dev clang-format)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
  { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
