# Benchmark of the classification engine (issue #3): parse + classify + transform + serialise a
# pacs.008 for sg-group-ops, against a plain libxml2 DOM parse (issue #3) and SAX parse (issue #8)
# of the same bytes in the same run.
add_executable(bench_policy ${CMAKE_CURRENT_LIST_DIR}/bench_policy.c
               ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
target_include_directories(bench_policy PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(bench_policy PRIVATE XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures")
target_link_libraries(bench_policy PRIVATE xb_policy xb_iso20022 PkgConfig::YAML
                      PkgConfig::JANSSON PkgConfig::OPENSSL)
