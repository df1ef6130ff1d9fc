#!/bin/bash
# Cold builds of two snavc executables alternated on copies of one estate:
#   bench/cold_ab.sh ESTATE ROUNDS SNAVC_A SNAVC_B [WORKDIR]
# Each round removes .snavc/ and builds (the lock of the previous build stays, as in a
# repository), printing SNAVC_TIMINGS's stages, wall, CPU (user+system, children
# included) and peak RSS (KiB); then compares the four outputs (docs/performance.md).
set -u
SRC=$1; N=$2; A=$3; B=$4; T=${5:-/tmp/snavc-cold-ab}
mkdir -p "$T"
for side in a b; do [ -d "$T/e-$side" ] || cp -r "$SRC" "$T/e-$side"; done
for i in $(seq "$N"); do
  for side in a b; do
    if [ $side = a ]; then exe=$A; else exe=$B; fi
    rm -rf "$T/e-$side/.snavc" "$T/o-$side"
    SNAVC_TIMINGS=1 /usr/bin/time -f "wall %e cpu %U+%S rss %M" "$exe" build "$T/e-$side" \
      -o "$T/o-$side" > /dev/null 2> "$T/log-$side-$i"
    stages=$(grep -E '^snavc:' "$T/log-$side-$i" | awk '{printf "%s=%s ", $2, $(NF-5)}')
    echo "$side $i: $stages| $(tail -1 "$T/log-$side-$i")"
  done
done
for f in effective.json origins.json diagnostics.json; do
  cmp "$T/o-a/$f" "$T/o-b/$f" && echo "same $f"
done
cmp "$T/e-a/snav.lock" "$T/e-b/snav.lock" && echo "same snav.lock"
