# reliability.cmake — issue #9: regression tests for the bugs the fuzzers and the fault suite
# found (each test names the harness or scenario that found it).
xb_unit_test(test_rel_regress SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rel_regress.c
             ${CMAKE_SOURCE_DIR}/adapter/config.c ${CMAKE_SOURCE_DIR}/adapter/log.c
             ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c
             ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c
             LIBS xb_policy xb_iso20022 PkgConfig::JANSSON PkgConfig::YAML PkgConfig::RDKAFKA
                  PkgConfig::OPENSSL Threads::Threads)
