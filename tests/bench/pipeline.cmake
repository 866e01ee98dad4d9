# pipeline.cmake — issue #8 benchmarks (owned by the performance work; driven by tests/bench/run).
# bench_pipeline: parse + classify + transform + serialise (sg-group-ops) on a CBPR+ pacs.008
# corpus, against a plain libxml2 SAX parse of the same bytes in the same run.
add_executable(bench_pipeline ${CMAKE_CURRENT_LIST_DIR}/bench_pipeline.c
               ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
target_include_directories(bench_pipeline PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(bench_pipeline PRIVATE XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures")
target_link_libraries(bench_pipeline PRIVATE xb_policy xb_iso20022 PkgConfig::YAML
                      PkgConfig::JANSSON PkgConfig::OPENSSL)
