# Runs the fuzzer on a fresh copy of the seed corpus in the build tree; the source tree is never
# written. Variables: FUZZER (executable), SEEDS (committed corpus), WORK (scratch directory),
# SECONDS (time budget), DICT (dictionary).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(GLOB seeds "${SEEDS}/*")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=30 -rss_limit_mb=4096
          -dict=${DICT} -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1 "${WORK}/corpus"
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "policy_fuzz failed (${result}); the input is in ${WORK}/artifacts")
endif()
