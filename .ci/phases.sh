# Timed phases for `make test`: `phase NAME CMD...` runs CMD, records how long it took and whether it passed;
# `phase_summary` prints the table and returns non-zero when any phase failed. Sourced by the Makefile.

PHASE_NAMES=()
PHASE_SECONDS=()
PHASE_RESULTS=()

phase() {
    local name="$1"
    shift
    local started=$SECONDS status=0
    printf '\n==> %s\n' "$name"
    "$@" || status=$?
    PHASE_NAMES+=("$name")
    PHASE_SECONDS+=($((SECONDS - started)))
    PHASE_RESULTS+=("$([[ $status -eq 0 ]] && echo ok || echo "FAILED ($status)")")
    return "$status"
}

# pytest exits 5 when it collects no tests: not a failure while a suite is still empty.
pytest_allow_empty() {
    local status=0
    "$@" || status=$?
    [[ $status -eq 5 ]] && { echo "(no tests collected)"; return 0; }
    return "$status"
}

phase_summary() {
    local failed=0 total=0 i
    printf '\n%-28s %8s  %s\n' "phase" "seconds" "result"
    printf '%-28s %8s  %s\n' "----------------------------" "--------" "------"
    for i in "${!PHASE_NAMES[@]}"; do
        printf '%-28s %8d  %s\n' "${PHASE_NAMES[$i]}" "${PHASE_SECONDS[$i]}" "${PHASE_RESULTS[$i]}"
        total=$((total + PHASE_SECONDS[i]))
        [[ ${PHASE_RESULTS[$i]} == ok ]] || failed=1
    done
    printf '%-28s %8d  %s\n' "total" "$total" "$([[ $failed -eq 0 ]] && echo ok || echo FAILED)"
    return "$failed"
}
