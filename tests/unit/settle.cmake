# Settlement in renminbi (issue #5): adapter/settle*, iso20022/pacs002, the settlement ledger,
# and the `xborder settle` / `xborder settlement-report` CLIs.
xb_unit_test(test_settle_convert SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_settle_convert.c LIBS xb_adapter)
xb_unit_test(test_settle_opts SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_settle_opts.c LIBS xb_adapter)
xb_unit_test(test_settle_ledger SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_settle_ledger.c LIBS xb_adapter)
add_test(NAME test_settle_cli
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_settle_cli.sh $<TARGET_FILE:xborder> ${CMAKE_SOURCE_DIR}/fixtures)
set_tests_properties(test_settle_cli PROPERTIES LABELS unit TIMEOUT 120)
xb_unit_test(test_settle_hook SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_settle_hook.c LIBS xb_adapter PkgConfig::SQLITE)
