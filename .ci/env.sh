# Source this from the repository root (`. .ci/env.sh || exit 1`): it creates or updates
# the Python environment optc runs in, then activates it. Idempotent: pip runs only when
# the environment is new or pyproject.toml changed since the last install.
#
#   OPTC_VENV   where the environment lives (default: .venv)
#   PYTHON      the interpreter that creates it (default: python3; 3.11 or newer)

optc_say() {
    echo "optc setup: $*" >&2
}

optc_env() {
    local venv="${OPTC_VENV:-.venv}" python="${PYTHON:-python3}" stamp want
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
    want=$(cksum <pyproject.toml)
    if [ ! -x "$venv/bin/optc" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        optc_say "installing optc with its test tools into $venv (pip install -e '.[test]')"
        if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" >"$venv/pip.log" 2>&1; then
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
