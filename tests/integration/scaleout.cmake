# Scale-out (issue #10): several `xborder run` processes in one consumer group on the real broker
# (XB_KAFKA_BOOTSTRAP, from tests/env/kafka-up) sharing state in a real PostgreSQL server (the
# ctest fixture `pg` from tests/unit/store.cmake starts one with tests/env/pg-up; XB_PG_URL
# overrides it). Label `integration`. Without a broker or a server the tests FAIL, never skip.
add_executable(scaleout_tool ${CMAKE_CURRENT_LIST_DIR}/scaleout_tool.c)
target_link_libraries(scaleout_tool PRIVATE PkgConfig::RDKAFKA)
set(XB_SCALEOUT_N 4000 CACHE STRING "records per scale-out scenario (full size: 100000)")
set(XB_SCALEOUT_PERSONS 6000 CACHE STRING "distinct persons per scale-out scenario (full: 150000)")
set(XB_SCALEOUT_SEED 97000 CACHE STRING "persons counted before the run (full size: 0)")
foreach(scenario pg-2 pg-3 pg-kill sqlite-1)
  add_test(NAME scaleout_${scenario}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/scaleout-test ${scenario} $<TARGET_FILE:xborder>
                   $<TARGET_FILE:scaleout_tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(scaleout_${scenario} PROPERTIES LABELS integration TIMEOUT 1200
                       RUN_SERIAL TRUE
                       ENVIRONMENT "XB_PG_URL_FILE=${CMAKE_BINARY_DIR}/pg-work/url;XB_PG_WORK=${CMAKE_BINARY_DIR}/pg-work;XB_SCALEOUT_N=${XB_SCALEOUT_N};XB_SCALEOUT_PERSONS=${XB_SCALEOUT_PERSONS};XB_SCALEOUT_SEED=${XB_SCALEOUT_SEED}")
  if(NOT scenario STREQUAL "sqlite-1")
    set_tests_properties(scaleout_${scenario} PROPERTIES FIXTURES_REQUIRED pg)
  endif()
endforeach()
