# perf.cmake — unit tests guarding issue #8's performance changes (canonical writer fast paths).
xb_unit_test(test_perf_write SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_perf_write.c LIBS xb_iso20022)
# test_perf_record: the decision record written without a jansson tree (record.c) and the audit
# line appended from its text (xb_audit_append_raw).
xb_unit_test(test_perf_record SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_perf_record.c
             ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c ${CMAKE_SOURCE_DIR}/adapter/state/audit.c
             LIBS xb_policy xb_iso20022 PkgConfig::YAML PkgConfig::JANSSON PkgConfig::OPENSSL)
# test_replay_formats: replay reads decision records of formats 1, 2 and 3 alike (record.c).
xb_unit_test(test_replay_formats SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_replay_formats.c LIBS xb_adapter)
