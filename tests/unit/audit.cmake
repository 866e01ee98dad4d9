# Regulator features (issue #7): Merkle trees, signed checkpoints, whole-chain verification,
# report. Sources are compiled directly so another area's half-written file cannot break them.
set(XB_AUDIT7_SOURCES ${CMAKE_SOURCE_DIR}/adapter/state/audit.c
    ${CMAKE_SOURCE_DIR}/adapter/state/audit_checkpoint.c
    ${CMAKE_SOURCE_DIR}/adapter/state/audit_verify.c ${CMAKE_SOURCE_DIR}/adapter/state/merkle.c)
set(XB_AUDIT7_LIBS xb_iso20022 PkgConfig::JANSSON PkgConfig::OPENSSL)
xb_unit_test(test_merkle SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_merkle.c
             ${CMAKE_SOURCE_DIR}/adapter/state/merkle.c LIBS ${XB_AUDIT7_LIBS})
xb_unit_test(test_audit_tamper SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit_tamper.c
             ${XB_AUDIT7_SOURCES} LIBS ${XB_AUDIT7_LIBS})
xb_unit_test(test_report SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_report.c
             ${CMAKE_SOURCE_DIR}/adapter/report.c ${XB_AUDIT7_SOURCES}
             LIBS xb_policy ${XB_AUDIT7_LIBS})
# verify-audit and audit-proof end to end, on logs written by the real writer.
add_executable(xb_audit_log_fixture ${CMAKE_CURRENT_LIST_DIR}/audit_log_fixture.c ${XB_AUDIT7_SOURCES})
target_include_directories(xb_audit_log_fixture PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(xb_audit_log_fixture PRIVATE XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures")
target_link_libraries(xb_audit_log_fixture PRIVATE ${XB_AUDIT7_LIBS})
add_test(NAME test_audit_cli
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/audit_cli.sh $<TARGET_FILE:xborder>
                 $<TARGET_FILE:xb_audit_log_fixture>)
set_tests_properties(test_audit_cli PROPERTIES LABELS unit TIMEOUT 120)
