# Settlement in renminbi through a real Kafka broker (issue #5): rates topic, settle hook, ledger,
# pacs.002 status topics and the settlement report. Label `integration`; the broker address comes
# from XB_KAFKA_BOOTSTRAP (tests/env/kafka-up). Without it the test FAILS, it never skips.
add_executable(test_settle_kafka ${CMAKE_CURRENT_LIST_DIR}/test_settle_kafka.c)
target_include_directories(test_settle_kafka PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(test_settle_kafka PRIVATE XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures"
                           XB_XBORDER_BIN="$<TARGET_FILE:xborder>")
target_link_libraries(test_settle_kafka PRIVATE xb_adapter PkgConfig::CMOCKA)
add_dependencies(test_settle_kafka xborder)
add_test(NAME test_settle_kafka COMMAND test_settle_kafka)
set_tests_properties(test_settle_kafka PROPERTIES LABELS integration TIMEOUT 180
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
