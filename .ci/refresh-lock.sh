#!/usr/bin/env bash
# Move requirements.lock to the newest releases pyproject.toml's ranges (narrowed by
# .ci/lock-constraints.txt, each line with its reason) allow, and keep the new lock only if
# the whole suite passes on it:
#   1. resolve (pip-compile, every package pinned with its hashes, optc's build
#      dependencies included) into a scratch directory;
#   2. say what changed: each package whose pinned version moved, appeared or went;
#   3. build a fresh environment from the new lock and run tests/run.sh in it;
#   4. replace requirements.lock only when that passed (exit 1 otherwise, lock untouched).
#
#   bash .ci/refresh-lock.sh            # resolve, compare, test, replace
#   bash .ci/refresh-lock.sh --dry-run  # resolve and compare only
#
# The lock is resolved for the Python that runs this (CI's is 3.11); its hashes cover every
# wheel of each pinned release, so other Pythons install the same versions.
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --disable-pip-version-check "pip-tools==7.7.0"
echo "== resolving pyproject.toml's ranges (pip-compile)"
CUSTOM_COMPILE_COMMAND="bash .ci/refresh-lock.sh" "$work/tools/bin/pip-compile" -q --upgrade --extra test --build-deps-for editable --generate-hashes \
    --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -c .ci/lock-constraints.txt \
    -o "$work/requirements.lock" pyproject.toml

pins() { grep -E '^[A-Za-z0-9._-]+==' "$1" | sed 's/ .*//; s/==/ /' | sort; }
echo "== what changed (package: old -> new)"
join -a1 -a2 -e "-" -o 0,1.2,2.2 <(pins requirements.lock) <(pins "$work/requirements.lock") |
    awk '$2 != $3 { print "  " $1 ": " $2 " -> " $3; moved = 1 } END { if (!moved) print "  nothing" }'
[ "$dry_run" -eq 1 ] && exit 0

echo "== the whole suite on the new lock (fresh environment)"
if ! OPTC_VENV="$work/venv" OPTC_LOCK="$work/requirements.lock" bash tests/run.sh; then
    echo "refresh-lock: the suite fails on the new lock; requirements.lock unchanged" >&2
    exit 1
fi
cp "$work/requirements.lock" requirements.lock
echo "refresh-lock: requirements.lock updated; commit it with the changes listed above"
