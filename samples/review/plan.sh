#!/bin/sh
# Review samples/review/change against samples/review/base the way CI does: `snavc plan`
# on a git repository whose HEAD is the deployed configuration (base/) and whose working
# tree is the pull request (change/). The repository lives in a temporary folder,
# removed on exit; nothing in samples/ is touched.
#
#   sh samples/review/plan.sh                      # snavc plan TMP --base HEAD
#   sh samples/review/plan.sh --as stephanie       # extra options go to snavc plan
set -eu
review=$(cd "$(dirname "$0")" && pwd)
repo=$(mktemp -d "${TMPDIR:-/tmp}/snavc-review.XXXXXX")
trap 'rm -rf "$repo"' EXIT

cp -R "$review/base/." "$repo/"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=review -c user.email=review@example.invalid \
    commit -q -m "deployed configuration (samples/review/base)"

rm -rf "$repo/clients" "$repo/partner"          # so that files the change deletes are gone
cp -R "$review/change/." "$repo/"
git -C "$repo" status --short

status=0
snavc plan "$repo" --base HEAD "$@" || status=$?
echo "exit $status"
exit "$status"
