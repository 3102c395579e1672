# Source this from the repository root (`. .ci/env.sh || exit 1`): it creates or updates
# the Python environment optc runs in, then activates it. The install is locked: every
# package, direct or transitive, comes at the version and with the hashes that
# requirements.lock names (`pip install --require-hashes`), then optc itself is installed
# editable without resolving anything (`--no-deps --no-build-isolation`), so a release
# published tomorrow cannot change what CI runs. .ci/refresh-lock.sh moves the lock.
# Idempotent: pip runs only when the environment is new or pyproject.toml or the lock
# changed since the last install.
#
#   OPTC_VENV   where the environment lives (default: .venv)
#   OPTC_LOCK   the lock file to install (default: requirements.lock)
#   PYTHON      the interpreter that creates it (default: python3; 3.11 or newer)

optc_say() {
    echo "optc setup: $*" >&2
}

optc_env() {
    local venv="${OPTC_VENV:-.venv}" lock="${OPTC_LOCK:-requirements.lock}" python="${PYTHON:-python3}" stamp want
    if ! command -v "$python" >/dev/null 2>&1; then
        optc_say "'$python' not found: install Python 3.11 or newer (Debian: apt-get install python3)"
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        optc_say "optc needs Python 3.11 or newer; '$python' is $("$python" -V 2>&1)"
        return 1
    fi

    if [ ! -x "$venv/bin/python" ]; then
        if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            optc_say "Python's venv module is missing: run 'apt-get install python3-venv' as root, then try again"
            return 1
        fi
        optc_say "creating $venv"
        "$python" -m venv "$venv" || { optc_say "'$python -m venv $venv' failed"; return 1; }
    fi

    stamp="$venv/.optc-installed"
    want=$(cat pyproject.toml "$lock" | cksum)
    if [ ! -x "$venv/bin/optc" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        optc_say "installing the locked packages ($lock) and optc into $venv"
        if ! { "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock" &&
               "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . &&
               "$venv/bin/python" -m pip check; } >"$venv/pip.log" 2>&1; then
            tail -n 30 "$venv/pip.log" >&2
            optc_say "pip install failed (the whole log: $venv/pip.log)"
            return 1
        fi
        echo "$want" >"$stamp"
    fi
    # shellcheck disable=SC1091
    . "$venv/bin/activate"
}

optc_env
