#!/usr/bin/env bash
# Installs every build, test, fuzz and benchmark dependency of asx on Debian 12 (run as root).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates \
  libssl-dev openssl node-llhttp libnghttp2-dev nghttp2-client nghttp2-server \
  libwslay-dev libcriterion-dev zlib1g-dev liblz4-dev libzstd-dev libuv1-dev \
  afl++ clang libclang-rt-14-dev valgrind wrk curl redis-server redis-tools \
  nats-server libnats-dev librdkafka-dev kcat python3 python3-grpcio python3-h2 \
  python3-websockets nginx
