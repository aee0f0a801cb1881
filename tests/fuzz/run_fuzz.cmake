# Runs a fuzzer on a fresh copy of its seed corpus in the build tree; the source tree is never
# written. Variables: FUZZER (executable), SEEDS (committed corpus), WORK (scratch directory),
# SECONDS (time budget), DICT (dictionary, may be empty).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(GLOB seeds "${SEEDS}/*")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
set(dict_option "")
if(DICT)
  set(dict_option "-dict=${DICT}")
endif()
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=30 -rss_limit_mb=4096 ${dict_option}
          -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1 "${WORK}/corpus"
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  get_filename_component(name "${FUZZER}" NAME)
  message(FATAL_ERROR "${name} failed (${result}); the input is in ${WORK}/artifacts")
endif()
