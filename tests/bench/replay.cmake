# Replay benchmark (issue #7): replay of 100,000 recorded messages vs the live classification
# rate, in one process. Uses the replay test library from tests/integration/replay.cmake.
if(TARGET xb_replay_testlib)
  add_executable(bench_replay ${CMAKE_CURRENT_LIST_DIR}/bench_replay.c)
  target_link_libraries(bench_replay PRIVATE xb_replay_testlib)
endif()
