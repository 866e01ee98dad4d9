# bench.cmake — benchmark programs (XB_BENCH, on by default). Each prints `BENCH name value unit`
# and `RATIO name value` lines against a baseline measured in the same run. Not tests.
# Other areas add their own add_executable lines below (or in their own fragment).

# iso20022 hot path vs plain libxml2 DOM and SAX (issue #2).
add_executable(bench_parse ${CMAKE_CURRENT_LIST_DIR}/bench_parse.c)
target_include_directories(bench_parse PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(bench_parse PRIVATE XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures")
target_link_libraries(bench_parse PRIVATE xb_iso20022)
