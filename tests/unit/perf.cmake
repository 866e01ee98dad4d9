# perf.cmake — unit tests guarding issue #8's performance changes (canonical writer fast paths).
xb_unit_test(test_perf_write SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_perf_write.c LIBS xb_iso20022)
