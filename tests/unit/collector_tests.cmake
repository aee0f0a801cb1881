# Unit tests of the collector's storage and tokens, against real SQLite files in temp directories.
add_executable(collector_unit_tests
  unit/collector_store_test.cpp
  unit/collector_tokens_test.cpp
)
target_link_libraries(collector_unit_tests PRIVATE mamori::collector GTest::gtest_main)
gtest_discover_tests(collector_unit_tests PROPERTIES LABELS unit)
