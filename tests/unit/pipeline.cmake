# Delivery pipeline (issue #4): watermark, audit log, log, config, Kafka source/DLQ, pipeline.
# Tests compile the pipeline's own sources directly so that another area's half-written file does
# not stop them from building.
set(XB_PIPE_LIBS xb_iso20022 PkgConfig::JANSSON PkgConfig::OPENSSL Threads::Threads)
xb_unit_test(test_watermark SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_watermark.c
             ${CMAKE_SOURCE_DIR}/adapter/transport/watermark.c LIBS ${XB_PIPE_LIBS})
xb_unit_test(test_worker SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker.c
             ${CMAKE_SOURCE_DIR}/adapter/worker.c LIBS ${XB_PIPE_LIBS})
xb_unit_test(test_audit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit.c
             ${CMAKE_SOURCE_DIR}/adapter/state/audit.c LIBS ${XB_PIPE_LIBS})
xb_unit_test(test_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c
             ${CMAKE_SOURCE_DIR}/adapter/config.c ${CMAKE_SOURCE_DIR}/adapter/log.c
             ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c
             ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c
             LIBS ${XB_PIPE_LIBS} PkgConfig::YAML PkgConfig::RDKAFKA)
set(XB_PIPE_KAFKA_SOURCES ${CMAKE_SOURCE_DIR}/adapter/config.c ${CMAKE_SOURCE_DIR}/adapter/log.c
    ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c ${CMAKE_SOURCE_DIR}/adapter/transport/kafka_env.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/source_kafka.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/fetch_waker.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/sink_kafka.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/watermark.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c)
xb_unit_test(test_source_kafka SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_source_kafka.c
             ${XB_PIPE_KAFKA_SOURCES} LIBS ${XB_PIPE_LIBS} PkgConfig::YAML PkgConfig::RDKAFKA)
xb_unit_test(test_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c
             ${CMAKE_SOURCE_DIR}/adapter/metrics.c LIBS ${XB_PIPE_LIBS} PkgConfig::MHD PkgConfig::CURL)
# The fetch waker's back-off on a log that ends in a transaction marker: real broker only (the mock
# cluster writes no control records), so this program is an integration test and nothing else.
xb_unit_test(test_source_txn_idle NO_TEST SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_source_txn_idle.c
             ${XB_PIPE_KAFKA_SOURCES} LIBS ${XB_PIPE_LIBS} PkgConfig::YAML PkgConfig::RDKAFKA)
add_test(NAME itest_source_txn_idle
         COMMAND sh -c "if [ -z \"$XB_KAFKA_BOOTSTRAP\" ]; then echo 'XB_KAFKA_BOOTSTRAP is not set (tests/env/kafka-up)'; exit 1; fi; exec \"$0\"" $<TARGET_FILE:test_source_txn_idle>)
set_tests_properties(itest_source_txn_idle PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
