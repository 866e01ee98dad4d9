# The valuation route of `xborder run` (issue #6): tables fed by hand, no Kafka, in-memory store.
xb_unit_test(test_val_route SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_val_route.c LIBS xb_adapter)
# The NEWP/REPL memory on PostgreSQL (the pg fixture of store.cmake starts a real server).
add_test(NAME test_val_route_pg COMMAND test_val_route pg)
set_tests_properties(test_val_route_pg PROPERTIES LABELS integration TIMEOUT 300 FIXTURES_REQUIRED pg
                     RESOURCE_LOCK pg-sessions
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT;XB_PG_URL_FILE=${CMAKE_BINARY_DIR}/pg-work/url")
