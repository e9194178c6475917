#!/usr/bin/env bash
# Installs the Debian packages rdzvbench builds and tests with. Idempotent: it only calls
# apt-get when a package is missing, so a second run costs a dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libcli11-dev libfmt-dev nlohmann-json3-dev libgtest-dev
  openmpi-bin libopenmpi-dev libpmix2
  libfabric-dev libfabric-bin
  libibverbs-dev
  libhiredis-dev redis-server redis-tools
  python3 python3-jsonschema python3-matplotlib
  sockperf iproute2 procps faketime coreutils
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
