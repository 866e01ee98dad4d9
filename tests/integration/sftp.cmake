# SFTP batch delivery (issue #12) against a real OpenSSH sshd (internal-sftp) started on a loopback
# port by tests/env/sshd-up with throwaway keys, stopped by pid with tests/env/sshd-down.
# Self-contained: each test starts and stops its own server in its own temporary folder.
# Sources are compiled directly so another area's half-written file cannot break them.
set(XB_SFTP_IT_SOURCES ${CMAKE_SOURCE_DIR}/adapter/transport/batch_file.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp.c ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c
    ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c ${CMAKE_SOURCE_DIR}/adapter/log.c)
add_executable(test_sftp_delivery ${CMAKE_CURRENT_LIST_DIR}/test_sftp_delivery.c ${XB_SFTP_IT_SOURCES})
target_include_directories(test_sftp_delivery PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(test_sftp_delivery PRIVATE XB_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                           XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures")
target_link_libraries(test_sftp_delivery PRIVATE xb_iso20022 PkgConfig::CURL PkgConfig::OPENSSL
                      PkgConfig::JANSSON PkgConfig::YAML PkgConfig::LIBXML2 Threads::Threads
                      PkgConfig::CMOCKA)
add_test(NAME test_sftp_delivery COMMAND test_sftp_delivery)
set_tests_properties(test_sftp_delivery PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")

# End to end: `xborder run` with `type: sftp` destinations, a real Kafka broker
# (XB_KAFKA_BOOTSTRAP from tests/env/kafka-up; FAILS without one, never skips) and sshd.
add_executable(sftp_inbox_tool ${CMAKE_CURRENT_LIST_DIR}/sftp_inbox_tool.c
               ${CMAKE_SOURCE_DIR}/adapter/transport/batch_file.c
               ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c)
target_include_directories(sftp_inbox_tool PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(sftp_inbox_tool PRIVATE xb_iso20022 PkgConfig::OPENSSL PkgConfig::JANSSON
                      PkgConfig::LIBXML2)
add_test(NAME sftp_pipeline_e2e
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sftp.pipeline-test $<TARGET_FILE:xborder>
                 $<TARGET_FILE:itest_tool> $<TARGET_FILE:sftp_inbox_tool> ${CMAKE_SOURCE_DIR})
set_tests_properties(sftp_pipeline_e2e PROPERTIES LABELS integration TIMEOUT 600)
