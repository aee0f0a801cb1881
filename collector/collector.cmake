# mamori-collector: the central service. Included from collector/CMakeLists.txt.
find_package(SQLite3 REQUIRED)

add_library(mamori_collector
  src/collector/sqlite_db.cpp
  src/collector/sqlite_store.cpp
  src/collector/tokens.cpp
  src/collector/ca.cpp
)
add_library(mamori::collector ALIAS mamori_collector)
target_include_directories(mamori_collector PUBLIC include PRIVATE src)
target_link_libraries(mamori_collector PUBLIC mamori::policy OpenSSL::Crypto SQLite::SQLite3)
