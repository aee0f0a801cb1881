# Unit tests of the collector's storage, tokens and CA, against real SQLite files in temp
# directories, real databases on the private PostgreSQL server and real OpenSSL keys.
add_library(mamori_test_pki STATIC support/test_pki.cpp)
target_include_directories(mamori_test_pki PUBLIC support)
target_link_libraries(mamori_test_pki PUBLIC OpenSSL::Crypto)

add_executable(collector_unit_tests
  unit/collector_tokens_test.cpp
  unit/collector_ca_test.cpp
  unit/collector_api_test.cpp
  unit/collector_mfa_test.cpp
  unit/collector_workers_test.cpp
)
# The MFA and request-worker tests read the collector's private headers (collector/src).
target_include_directories(collector_unit_tests PRIVATE ${PROJECT_SOURCE_DIR}/collector/src)
target_link_libraries(collector_unit_tests PRIVATE mamori::collector mamorictl_admin mamori_test_pki
  GTest::gtest_main)
gtest_discover_tests(collector_unit_tests PROPERTIES LABELS unit)

# The store's suite runs against both backends; the PostgreSQL half also carries label `postgres`.
add_executable(collector_store_tests unit/collector_store_test.cpp)
target_link_libraries(collector_store_tests PRIVATE mamori::collector mamori_test_database
  GTest::gtest_main)
gtest_discover_tests(collector_store_tests TEST_FILTER "Sqlite*" NO_PRETTY_VALUES
  PROPERTIES LABELS unit)
gtest_discover_tests(collector_store_tests TEST_FILTER "Postgres*" NO_PRETTY_VALUES
  TEST_LIST collector_store_postgres_tests)
mamori_postgres_tests(collector_store_postgres_tests unit)
