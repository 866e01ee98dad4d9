# The valuation route of `xborder run` (issue #6): real Kafka broker (XB_KAFKA_BOOTSTRAP, from
# tests/env/kafka-up), real HTTPS receiver with mutual TLS, the example config and default catalog.
# Label `integration`; without a broker address it FAILS saying how to start one (never skips).
add_test(NAME valuation_route_run
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/valuation-test $<TARGET_FILE:xborder>
                 $<TARGET_FILE:itest_tool> ${CMAKE_SOURCE_DIR})
set_tests_properties(valuation_route_run PROPERTIES LABELS integration TIMEOUT 600)
