#!/usr/bin/env bash
# Table 1 on an offline GPU machine, in commands of at most 10 minutes (README: "Paper records on an
# offline GPU machine"). It runs from the code/ folder of a pack (`gazelib gpu pack`), the one tree
# copied to the machine:   cd <pack>/code && tools/gpu/steps.sh setup
#
#   tools/gpu/steps.sh setup        check the pack, build pydensecrf2 offline, build the training tensors once
#   tools/gpu/steps.sh test         the unit tests on this machine's device (CUDA when there is one)
#   tools/gpu/steps.sh bench        gazelib bench (paper profile; 3 runs stacked against one; compiled steps),
#                                     then LPP loop vs fused -> results/bench/
#   tools/gpu/steps.sh start        launch the runs in the background, PARALLEL at once (they outlive the command);
#                                     with STACKED=1 each row's SEEDS train as one stacked model
#   tools/gpu/steps.sh wait S       wait up to S seconds for the runs, then collect
#   tools/gpu/steps.sh diagnose     GradTrack's gap (tools/gpu/diagnose_gradtrack.py, BUDGET seconds of
#                                     training, 540): exit 3 when it must be run again, else collect
#   tools/gpu/steps.sh collect      records, logs, bench records and diagnoses -> $OUT/gpu-results.tar.gz
#                                     (here: tar xzf gpu-results.tar.gz -C results)
#
# Settings (environment): PROFILE (paper), SEEDS ("0"), ROWS (all Table 1 rows; labels separated by
# commas), STACKED (1: a row's seeds as one stacked model, `gazelib train --stacked`; 0: one process per
# seed), PARALLEL (processes at once, 6), DEVICE (cuda), OUT ($OUT or gpu-out), PACK (the folder above
# when this code is a pack's, else .pack). GAZELIB_REVISION: the commit the code is (default: the
# pack's, from its manifest; records keep it).
# Records, checkpoints and logs live in GAZELIB_RESULTS (/tmp/gazelib-results), outside the tree:
# a fresh copy of the tree replaces the old one, deleting whatever was written into it.
# Runs resume from their checkpoints: `start` again after an interruption continues them.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE=${PROFILE:-paper}; SEEDS=${SEEDS:-0}; PARALLEL=${PARALLEL:-6}; DEVICE=${DEVICE:-cuda}; STACKED=${STACKED:-1}
[ -f ../MANIFEST.json ] && PACK=${PACK:-$(cd .. && pwd)}
PACK=${PACK:-.pack}; OUT=${OUT:-gpu-out}; SITE=${SITE:-/tmp/gazelib-site}; PY=${PYTHON:-python3}
export GAZELIB_RESULTS=${GAZELIB_RESULTS:-/tmp/gazelib-results}
LOGS=$GAZELIB_RESULTS/gpu-logs
export GAZELIB_DATA=$PACK GAZELIB_CACHE=${GAZELIB_CACHE:-/tmp/gazelib-cache} PYTHONUNBUFFERED=1
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-20}   # the runs' logs show their progress, without filling up
export PYTHONDONTWRITEBYTECODE=1   # the pack's files stay those its manifest lists (`verify`)
[ -z "${GAZELIB_REVISION:-}" ] && [ -f "$PACK/MANIFEST.json" ] && GAZELIB_REVISION=$($PY -c \
  'import json, sys; print(json.load(open(sys.argv[1])).get("code_revision") or "")' "$PACK/MANIFEST.json")
export GAZELIB_REVISION=${GAZELIB_REVISION:-}
export PYTHONPATH=$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}
IFS=, read -r -a ROW_LIST <<< "${ROWS:-}"
rows_args=(); [ ${#ROW_LIST[@]} -gt 0 ] && rows_args=(--rows "${ROW_LIST[@]}")
stacked_args=(); [ "$STACKED" = 1 ] && stacked_args=(--stacked)

case "${1:-}" in
  setup)
    mkdir -p "$LOGS"; touch "$LOGS/run-start"   # collect takes the records written after this
    $PY -m gazelib gpu verify "$PACK"
    if ! $PY -c "import pydensecrf.densecrf" 2> /dev/null; then
      echo "building pydensecrf2 from its sdist (offline)"
      $PY -m pip install -q --no-index --no-deps --target "$SITE-build" "$PACK"/wheels/Cython-*.whl
      PYTHONPATH=$SITE-build $PY -m pip install -q --no-index --no-deps --no-build-isolation --target "$SITE" \
        "$PACK"/wheels/pydensecrf2-*.tar.gz
    fi
    time $PY -m gazelib gpu prepare --profile "$PROFILE" "${rows_args[@]}" ;;
  test)
    # jupytext, papermill, Sphinx, Chromium (and pydicom, nbformat) are not on the machine: those tests stay here
    GAZELIB_MIRROR=$PACK $PY -m pytest -q -p no:cacheprovider --continue-on-collection-errors --ignore=tests/test_notebooks.py \
      --ignore=tests/ops/test_exercises.py --ignore=tests/ops/test_book.py -k "not fetch" ;;
  bench)
    $PY -m gazelib bench --device "$DEVICE" --profiles "$PROFILE" --steps "${BENCH_STEPS:-10}" --stacked 3
    # does torch.compile pay for the step? the same step compiled, on a cheap and on the costliest row
    $PY -m gazelib bench --device "$DEVICE" --profiles "$PROFILE" --steps "${BENCH_STEPS:-10}" --no-reference \
      --methods full_nnunet gazemedseg --set compile=true
    $PY -m gazelib bench --device "$DEVICE" --lpp --profiles quick "$PROFILE" --steps "${BENCH_STEPS:-10}" ;;
  diagnose)
    $PY tools/gpu/diagnose_gradtrack.py --profile "$PROFILE" --device "$DEVICE" --budget "${BUDGET:-540}" \
      --out "$GAZELIB_RESULTS/diagnosis"
    "$0" collect ;;
  start)
    mkdir -p "$LOGS"
    # shellcheck disable=SC2086
    $PY -m gazelib gpu commands --profile "$PROFILE" --seeds $SEEDS --set "device=$DEVICE" --logs "$LOGS" \
      "${rows_args[@]}" "${stacked_args[@]}" > "$LOGS/commands.txt"
    cat "$LOGS/commands.txt"
    setsid nohup bash -c "xargs -P $PARALLEL -I{} -d '\n' bash -c '{}' < $LOGS/commands.txt; echo done > $LOGS/finished" \
      > "$LOGS/xargs.log" 2>&1 < /dev/null &
    echo "started $(wc -l < "$LOGS/commands.txt") runs, $PARALLEL at once" ;;
  wait)
    deadline=$(( $(date +%s) + ${2:?seconds} ))
    sleep 5
    while [ ! -f "$LOGS/finished" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 10; done
    "$0" collect ;;
  collect)
    mkdir -p "$OUT"
    [ -f "$LOGS/finished" ] && echo "all runs finished" || echo "runs still going"
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv || true
    for log in "$LOGS"/*.log; do [ -e "$log" ] && printf '%s: %s\n' "$(basename "$log")" "$(tail -c 300 "$log" | tr '\r' '\n' | tail -n 1)"; done
    # what this procedure wrote: records, bench records and diagnoses newer than `setup`, and the logs
    (cd "$GAZELIB_RESULTS" && find runs bench diagnosis -name '*.json' -newer gpu-logs/run-start 2> /dev/null) \
      > "$LOGS/collected.txt" || true
    tar czf "$OUT/gpu-results.tar.gz" -C "$GAZELIB_RESULTS" gpu-logs -T "$LOGS/collected.txt"
    echo "$(wc -l < "$LOGS/collected.txt") records collected"
    ls -la "$OUT" ;;
  *) sed -n 2,20p "$0"; exit 2 ;;
esac
