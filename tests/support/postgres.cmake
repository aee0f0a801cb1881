# The private PostgreSQL 15 server of the tests labelled `postgres`: started once before the first
# of them (ctest fixture `postgres`), stopped after the last. Tests that need it take
# mamori_postgres_tests().
set(MAMORI_TEST_PG_DIR ${CMAKE_BINARY_DIR}/tests/postgres)
set(pg_server ${CMAKE_CURRENT_LIST_DIR}/pg-test-server.sh)
add_test(NAME postgres_server_start COMMAND bash ${pg_server} start ${MAMORI_TEST_PG_DIR})
add_test(NAME postgres_server_stop COMMAND bash ${pg_server} stop ${MAMORI_TEST_PG_DIR})
set_tests_properties(postgres_server_start PROPERTIES
  FIXTURES_SETUP postgres LABELS postgres TIMEOUT 120)
set_tests_properties(postgres_server_stop PROPERTIES
  FIXTURES_CLEANUP postgres LABELS postgres TIMEOUT 60)

# Marks every test found by gtest_discover_tests(... TEST_LIST <list>) in this directory as
# needing the server: the labels `labels` and `postgres`, the fixture, and where to find it.
# (gtest_discover_tests's own PROPERTIES cannot carry two labels.)
function(mamori_postgres_tests list labels)
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${list}_postgres.cmake)
  file(WRITE ${script} "foreach(t IN LISTS ${list})
  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${labels};postgres\"
    FIXTURES_REQUIRED postgres ENVIRONMENT \"MAMORI_TEST_PG_DIR=${MAMORI_TEST_PG_DIR}\")
endforeach()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()

find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
add_library(mamori_test_database STATIC ${CMAKE_CURRENT_LIST_DIR}/test_database.cpp)
target_include_directories(mamori_test_database PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(mamori_test_database PUBLIC SQLite::SQLite3 PostgreSQL::PostgreSQL)
