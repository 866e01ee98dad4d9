# resume.cmake — issue #9: xborder keeps going by itself after a fault.
#  - test_source_rebalance: a partition paused for backpressure when the group rebalances flows
#    again once it is assigned back (librdkafka's mock cluster). itest_source_rebalance runs the
#    same program against the real broker in XB_KAFKA_BOOTSTRAP (label `integration`).
#  - test_audit_full: an audit append that fails part way (file size limit standing in for a full
#    disk) leaves no torn line; the retry writes it whole and the chain verifies.
xb_unit_test(test_source_rebalance SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_source_rebalance.c
             ${XB_PIPE_KAFKA_SOURCES} LIBS ${XB_PIPE_LIBS} PkgConfig::YAML PkgConfig::RDKAFKA)
add_test(NAME itest_source_rebalance
         COMMAND sh -c "if [ -z \"$XB_KAFKA_BOOTSTRAP\" ]; then echo 'XB_KAFKA_BOOTSTRAP is not set (tests/env/kafka-up)'; exit 1; fi; XB_REBALANCE_BOOTSTRAP=\"$XB_KAFKA_BOOTSTRAP\" exec \"$0\"" $<TARGET_FILE:test_source_rebalance>)
set_tests_properties(itest_source_rebalance PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
xb_unit_test(test_audit_full SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit_full.c
             ${CMAKE_SOURCE_DIR}/adapter/state/audit.c LIBS ${XB_PIPE_LIBS})
