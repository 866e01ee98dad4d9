# State store (issue #10): SQLite (unit) and PostgreSQL (integration, a real server) backends and
# the decision protocol. Compiles the store's files directly (like policy.cmake) so that another
# area's half-written file cannot stop these tests from building.
set(XB_STORE_SOURCES ${CMAKE_SOURCE_DIR}/adapter/state/store.c
    ${CMAKE_SOURCE_DIR}/adapter/state/store_sqlite.c ${CMAKE_SOURCE_DIR}/adapter/state/store_pg.c
    ${CMAKE_SOURCE_DIR}/adapter/log.c ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
set(XB_STORE_LIBS xb_policy xb_iso20022 PkgConfig::SQLITE PkgConfig::PQ PkgConfig::JANSSON PkgConfig::YAML
    Threads::Threads)
xb_unit_test(test_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c
             ${CMAKE_CURRENT_LIST_DIR}/test_store_proxy.c ${XB_STORE_SOURCES}
             LIBS ${XB_STORE_LIBS})
# (test_store without an argument is the SQLite run, label unit)

# A real PostgreSQL server for the tests that need one (ctest fixture `pg`): tests/env/pg-up with
# a work dir in this build tree, stopped by pid by tests/env/pg-down when the last user is done.
set(XB_PG_WORK ${CMAKE_BINARY_DIR}/pg-work)
# PG_FAST=1: fsync off (this machine's fsync costs ~6 ms); restarts still keep every commit.
add_test(NAME pg_up COMMAND env PG_WORK=${XB_PG_WORK} PG_FAST=1
         bash ${CMAKE_SOURCE_DIR}/tests/env/pg-up)
set_tests_properties(pg_up PROPERTIES FIXTURES_SETUP pg LABELS integration TIMEOUT 120)
add_test(NAME pg_down COMMAND env PG_WORK=${XB_PG_WORK} PG_WIPE=1
         bash ${CMAKE_SOURCE_DIR}/tests/env/pg-down)
set_tests_properties(pg_down PROPERTIES FIXTURES_CLEANUP pg LABELS integration TIMEOUT 60)

add_test(NAME test_store_pg COMMAND test_store pg)
# RESOURCE_LOCK pg-sessions: this test terminates every xborder session on the server (as a
# failover would), so no other test may hold one while it runs.
set_tests_properties(test_store_pg PROPERTIES LABELS integration TIMEOUT 300 FIXTURES_REQUIRED pg
                     RESOURCE_LOCK pg-sessions
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT;XB_PG_URL_FILE=${XB_PG_WORK}/url")
