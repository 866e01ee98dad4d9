# Scale-out (issue #10): several `xborder run` processes in one consumer group on the real broker
# (XB_KAFKA_BOOTSTRAP, from tests/env/kafka-up) sharing state in a real PostgreSQL server (the
# ctest fixture `pg` from tests/unit/store.cmake starts one with tests/env/pg-up; XB_PG_URL
# overrides it). Label `integration`. Without a broker or a server the tests FAIL, never skip.
add_executable(scaleout_tool ${CMAKE_CURRENT_LIST_DIR}/scaleout_tool.c
               ${CMAKE_CURRENT_LIST_DIR}/tool_common.c)
target_include_directories(scaleout_tool PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(scaleout_tool PRIVATE PkgConfig::RDKAFKA PkgConfig::SQLITE)
# Full size (N 100000, PERSONS 150000, SEED 0) takes 6+ minutes per scenario on 2 cores; the
# defaults cross the same threshold mid-run from a seeded count (see scaleout-test). The sanitizer
# build is 2-3x slower per record, so it runs half as many.
if(XB_SANITIZE)
  set(XB_SCALEOUT_DEFAULTS 2000 3000 98500)
else()
  set(XB_SCALEOUT_DEFAULTS 4000 6000 97000)
endif()
list(GET XB_SCALEOUT_DEFAULTS 0 _n)
list(GET XB_SCALEOUT_DEFAULTS 1 _p)
list(GET XB_SCALEOUT_DEFAULTS 2 _s)
set(XB_SCALEOUT_N ${_n} CACHE STRING "records per scale-out scenario (full size: 100000)")
set(XB_SCALEOUT_PERSONS ${_p} CACHE STRING "distinct persons per scale-out scenario (full: 150000)")
set(XB_SCALEOUT_SEED ${_s} CACHE STRING "persons counted before the run (full size: 0)")
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
