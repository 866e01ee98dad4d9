# Unit tests of valuation/ (NAV engine, FX, prices, holdings, reda.001) and `xborder valuate`.
# The tests compile the fund-file reader and the YAML tree in directly rather than linking the
# whole adapter, so that they depend on nothing but valuation/ and iso20022/.
set(XB_VAL_TEST_ADAPTER_SOURCES ${CMAKE_SOURCE_DIR}/adapter/fund_file.c
    ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
foreach(t test_val_fx test_val_nav test_val_report)
  xb_unit_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${XB_VAL_TEST_ADAPTER_SOURCES}
               LIBS xb_valuation PkgConfig::YAML PkgConfig::JANSSON)
endforeach()
# Exit codes of the CLI (0 / 1 / 2 / 3), REPL on re-run, both namespaces: a small shell test.
add_test(NAME test_val_cli
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_val_cli.sh $<TARGET_FILE:xborder>
                 ${CMAKE_SOURCE_DIR}/fixtures ${CMAKE_CURRENT_BINARY_DIR}/val_cli_tmp)
set_tests_properties(test_val_cli PROPERTIES LABELS unit TIMEOUT 120)
