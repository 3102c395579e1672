#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds the environment (.ci/env.sh), then runs
# pytest and lit. Exits non-zero if either fails; extra arguments go to pytest.
#
#   bash tests/run.sh            # everything this machine can run
#   bash tests/run.sh -x -k dce  # pytest options
#   OPTC_TEST_WORKERS=0 bash tests/run.sh   # pytest in one process
#
# pytest reports only failures and errors (-rfE; pass -ra for skips too).
# Tests marked `gpu` run only where an NVIDIA driver answers (they also skip themselves);
# tests marked `zoo` run only where benchmarks/zoo/ holds the models build_zoo.py writes.
set -uo pipefail
cd "$(dirname "$0")/.."
. .ci/env.sh || exit 1

excluded=()
nvidia-smi -L >/dev/null 2>&1 || excluded+=("not gpu")
compgen -G "benchmarks/zoo/*.onnx" >/dev/null || excluded+=("not zoo")
markers=""
for m in "${excluded[@]}"; do markers="${markers:+$markers and }$m"; done

# pytest-xdist: one worker per core (OPTC_TEST_WORKERS=N to choose, 0 for none); a test
# file stays on one worker, as the node tests' pass rate is counted from its own module
workers=${OPTC_TEST_WORKERS:-auto}
started=$SECONDS
echo "== pytest${markers:+ (-m '$markers')}, $workers workers"
python -m pytest -q -rfE -p no:cacheprovider -n "$workers" --dist loadfile ${markers:+-m "$markers"} "$@"
pytest_status=$?
if [ "$pytest_status" -eq 5 ]; then  # no test selected: not a failure of the suite
    echo "pytest: no test matched the selection"
    pytest_status=0
fi
pytest_done=$SECONDS

echo "== lit lit_tests"
lit -q lit_tests
lit_status=$?
[ "$lit_status" -eq 0 ] && echo "lit: all tests passed"

echo "== pytest $((pytest_done - started)) s, lit $((SECONDS - pytest_done)) s, total $((SECONDS - started)) s"
if [ "$pytest_status" -ne 0 ] || [ "$lit_status" -ne 0 ]; then
    echo "FAILED (pytest exit $pytest_status, lit exit $lit_status)"
    exit 1
fi
echo "PASSED"
