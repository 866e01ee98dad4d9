# Delivery pipeline integration tests (issue #4): real Kafka broker (XB_KAFKA_BOOTSTRAP, from
# tests/env/kafka-up) and the real HTTPS receiver. Label `integration`. Without a broker address
# each test FAILS with a message saying how to start one; it never skips.
add_executable(itest_tool ${CMAKE_CURRENT_LIST_DIR}/itest_tool.c
               ${CMAKE_SOURCE_DIR}/adapter/state/audit.c ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
target_include_directories(itest_tool PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(itest_tool PRIVATE xb_iso20022 PkgConfig::RDKAFKA PkgConfig::JANSSON
                      PkgConfig::OPENSSL PkgConfig::YAML)
foreach(scenario e2e-10k poison receiver-down receiver-flaky kill9-20k)
  add_test(NAME pipeline_${scenario}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pipeline-test ${scenario} $<TARGET_FILE:xborder>
                   $<TARGET_FILE:itest_tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(pipeline_${scenario} PROPERTIES LABELS integration TIMEOUT 900)
endforeach()
