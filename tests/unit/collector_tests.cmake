# Unit tests of the collector's storage, tokens and CA, against real SQLite files in temp
# directories and real OpenSSL keys.
add_library(mamori_test_pki STATIC support/test_pki.cpp)
target_include_directories(mamori_test_pki PUBLIC support)
target_link_libraries(mamori_test_pki PUBLIC OpenSSL::Crypto)

add_executable(collector_unit_tests
  unit/collector_store_test.cpp
  unit/collector_tokens_test.cpp
  unit/collector_ca_test.cpp
  unit/collector_api_test.cpp
)
target_link_libraries(collector_unit_tests PRIVATE mamori::collector mamorictl_admin mamori_test_pki
  GTest::gtest_main)
gtest_discover_tests(collector_unit_tests PROPERTIES LABELS unit)
