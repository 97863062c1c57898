#!/usr/bin/env bash
# Runs firmware/golden/unassigned-io.bin under QEMU 7.2 and stores what it printed on the debug
# console as test/fixtures/qemu-7.2/unassigned-io.txt. Needs qemu-system-x86_64.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 10 qemu-system-x86_64 -M pc -m 32M -nodefaults -nic none -display none -accel tcg \
  -bios firmware/golden/unassigned-io.bin -debugcon "file:$out" &
pid=$!
for _ in $(seq 1 100); do grep -q 'E$' "$out" 2>/dev/null && break; sleep 0.1; done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
cp "$out" test/fixtures/qemu-7.2/unassigned-io.txt
