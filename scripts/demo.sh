#!/usr/bin/env bash
# Build and run the xpush tray agent from source:
#   scripts/demo.sh [xpush flags...]
# With no flags it starts the local demo (in-process xpushd on loopback).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bash "$repo/scripts/install-deps.sh" demo
export PATH="/usr/local/go/bin:$PATH"
cd "$repo"
exec go run . "$@"
