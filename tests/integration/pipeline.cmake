# Delivery pipeline integration tests (issue #4): real Kafka broker (XB_KAFKA_BOOTSTRAP, from
# tests/env/kafka-up) and the real HTTPS receiver. Label `integration`. Without a broker address
# each test FAILS with a message saying how to start one; it never skips.
add_executable(itest_tool ${CMAKE_CURRENT_LIST_DIR}/itest_tool.c ${CMAKE_CURRENT_LIST_DIR}/tool_common.c
               ${CMAKE_SOURCE_DIR}/adapter/state/audit.c ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
target_include_directories(itest_tool PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(itest_tool PRIVATE xb_iso20022 PkgConfig::RDKAFKA PkgConfig::JANSSON
                      PkgConfig::OPENSSL PkgConfig::YAML)
# The sanitizer build runs the same scenarios on a tenth of the records (XB_ITEST_SCALE): ASan
# makes every record several times slower, and CI has one budget for both builds.
if(XB_SANITIZE)
  set(XB_ITEST_SCALE 10)
else()
  set(XB_ITEST_SCALE 1)
endif()
foreach(scenario e2e-10k poison ledger-refused receiver-down receiver-flaky kill9-20k reload tls-errors)
  add_test(NAME pipeline_${scenario}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pipeline-test ${scenario} $<TARGET_FILE:xborder>
                   $<TARGET_FILE:itest_tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(pipeline_${scenario} PROPERTIES LABELS integration TIMEOUT 900
                       ENVIRONMENT "XB_ITEST_SCALE=${XB_ITEST_SCALE}")
endforeach()
# check-config needs no broker: a unit-level test of the command.
add_test(NAME pipeline_check_config
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check-config-test $<TARGET_FILE:xborder>
                 $<TARGET_FILE:itest_tool> ${CMAKE_SOURCE_DIR})
set_tests_properties(pipeline_check_config PROPERTIES LABELS unit TIMEOUT 120)
# The README's first command, end to end on the embedded mock cluster (no broker needed).
add_test(NAME pipeline_demo
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/demo-test $<TARGET_FILE:xborder>
                 $<TARGET_FILE:itest_tool>)
set_tests_properties(pipeline_demo PROPERTIES LABELS unit TIMEOUT 120)
