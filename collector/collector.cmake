# mamori-collector: the central service. Included from collector/CMakeLists.txt.
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json program_options url)
pkg_check_modules(COLLECTOR_OATH REQUIRED IMPORTED_TARGET liboath)

add_library(mamori_collector
  src/collector/sqlite_db.cpp
  src/collector/sqlite_store.cpp
  src/collector/pg_conn.cpp
  src/collector/postgres_store.cpp
  src/collector/policy_watch.cpp
  src/collector/open_store.cpp
  src/collector/tokens.cpp
  src/collector/ca.cpp
  src/collector/json_fields.cpp
  src/collector/bundle_check.cpp
  src/collector/log.cpp
  src/collector/metrics.cpp
  src/collector/api.cpp
  src/collector/admin_api.cpp
  src/collector/admin_certs_api.cpp
  src/collector/config.cpp
  src/collector/mfa_key.cpp
  src/collector/mfa_credential.cpp
  src/collector/mfa_api.cpp
  src/collector/accepted_step.cpp
  src/collector/request_workers.cpp
)
add_library(mamori::collector ALIAS mamori_collector)
target_include_directories(mamori_collector PUBLIC include PRIVATE src)
target_link_libraries(mamori_collector PUBLIC mamori::policy Boost::json OpenSSL::Crypto SQLite::SQLite3
  PostgreSQL::PostgreSQL PRIVATE mamori::platform Boost::url PkgConfig::COLLECTOR_OATH)

# The Beast/Asio translation unit compiles slowly; it is the only one of the server.
add_library(mamori_collector_server
  src/collector/server.cpp
)
target_include_directories(mamori_collector_server PRIVATE src)
target_link_libraries(mamori_collector_server PUBLIC mamori::collector OpenSSL::SSL)

add_executable(mamori-collector src/collector/main.cpp)
target_include_directories(mamori-collector PRIVATE src)
target_link_libraries(mamori-collector PRIVATE mamori_collector_server Boost::program_options)
install(TARGETS mamori-collector RUNTIME DESTINATION bin COMPONENT collector)

# The HTTPS client of mamorictl and agents (one Beast translation unit of its own).
add_library(mamori_collector_client
  src/client/https_client.cpp
)
add_library(mamori::collector_client ALIAS mamori_collector_client)
target_include_directories(mamori_collector_client PUBLIC include)
target_link_libraries(mamori_collector_client PUBLIC OpenSSL::SSL PRIVATE Boost::headers)

# mamorictl's commands against the admin/IT API; linked into mamorictl.
add_library(mamorictl_admin
  src/mamorictl/admin_client.cpp
  src/mamorictl/admin_commands.cpp
  src/mamorictl/admin_cert_command.cpp
  src/mamorictl/table_output.cpp
)
target_include_directories(mamorictl_admin PUBLIC src)
target_link_libraries(mamorictl_admin PUBLIC mamori::collector_client mamori::policy
  Boost::json Boost::program_options PRIVATE mamori_qr_output)
target_link_libraries(mamorictl PRIVATE mamorictl_admin)
