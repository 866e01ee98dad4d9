# reliability.cmake — issue #9: the fault suite's helper and the security/leak tests that run
# against a real broker (XB_KAFKA_BOOTSTRAP) and the real receiver. Label `integration`.
# The fault suite itself is one command, tests/reliability/run [--quick] (scripts/test runs it);
# it is not a ctest entry because it starts and stops its own broker.
add_executable(rel_tool ${CMAKE_SOURCE_DIR}/tests/reliability/rel_tool.c
               ${CMAKE_SOURCE_DIR}/tests/integration/tool_common.c
               ${CMAKE_SOURCE_DIR}/adapter/state/audit.c)
target_include_directories(rel_tool PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(rel_tool PRIVATE xb_iso20022 PkgConfig::RDKAFKA PkgConfig::JANSSON
                      PkgConfig::OPENSSL)
foreach(scenario hostile secrets leaks)
  add_test(NAME security_${scenario}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/reliability/security-test ${scenario}
                   $<TARGET_FILE:xborder> $<TARGET_FILE:itest_tool> $<TARGET_FILE:rel_tool>
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(security_${scenario} PROPERTIES LABELS integration TIMEOUT 900)
endforeach()
