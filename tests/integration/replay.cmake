# Regulator replay (issue #7) over a real Kafka broker (XB_KAFKA_BOOTSTRAP, from tests/env/kafka-up;
# the test FAILS when it is unset), and the report in a real headless browser (Chromium driven by
# playwright-core; needs node, npm and /usr/bin/chromium).
# The replay engine needs config, Kafka env and the policy engine, which change under other issues:
# link the adapter library rather than a source list that would go stale.
set(XB_REPLAY_SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_harness.c)
set(XB_REPLAY_LIBS xb_adapter)

add_library(xb_replay_testlib STATIC ${XB_REPLAY_SOURCES})
target_include_directories(xb_replay_testlib PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(xb_replay_testlib PUBLIC XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures"
                           XB_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_link_libraries(xb_replay_testlib PUBLIC ${XB_REPLAY_LIBS})

add_executable(test_replay_kafka ${CMAKE_CURRENT_LIST_DIR}/test_replay_kafka.c)
target_link_libraries(test_replay_kafka PRIVATE xb_replay_testlib PkgConfig::CMOCKA)
add_test(NAME test_replay_kafka COMMAND test_replay_kafka)
if(XB_SANITIZE)
  set(XB_REPLAY_TEST_SCALE 10) # ASan makes every decision several times slower
else()
  set(XB_REPLAY_TEST_SCALE 1)
endif()
set_tests_properties(test_replay_kafka PROPERTIES LABELS integration TIMEOUT 900
                     ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT;XB_ITEST_SCALE=${XB_REPLAY_TEST_SCALE}")

# A report from the synthetic audit fixture, loaded in Chromium: charts must render.
add_executable(xb_report_fixture ${CMAKE_CURRENT_LIST_DIR}/report_fixture.c)
target_link_libraries(xb_report_fixture PRIVATE xb_replay_testlib)
add_test(NAME test_report_browser
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/report_browser/run.sh $<TARGET_FILE:xb_report_fixture>
                 ${CMAKE_CURRENT_BINARY_DIR}/report_browser)
set_tests_properties(test_report_browser PROPERTIES LABELS integration TIMEOUT 300)

# Replay against the real pipeline: `xborder run` with signed checkpoints decides 10,000 messages
# (a tenth under the sanitizers), then verify-audit (file and topic) and replay must agree with it.
if(TARGET itest_tool)
  if(XB_SANITIZE)
    set(XB_REPLAY_ITEST_SCALE 10)
  else()
    set(XB_REPLAY_ITEST_SCALE 1)
  endif()
  add_test(NAME replay_pipeline
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/replay-pipeline-test $<TARGET_FILE:xborder>
                   $<TARGET_FILE:itest_tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(replay_pipeline PROPERTIES LABELS integration TIMEOUT 1200
                       ENVIRONMENT "XB_ITEST_SCALE=${XB_REPLAY_ITEST_SCALE}")
endif()
