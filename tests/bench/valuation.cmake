# Benchmark of the valuation path: a 10,000-holding semt.003 valued end to end vs parsed alone.
add_executable(bench_valuation ${CMAKE_CURRENT_LIST_DIR}/bench_valuation.c
               ${CMAKE_SOURCE_DIR}/adapter/progress.c) # progress line on a terminal
target_include_directories(bench_valuation PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(bench_valuation PRIVATE xb_valuation)
