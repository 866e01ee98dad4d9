# amount.cmake — unit tests for iso20022/amount.c (exact decimal money). Owns only these tests.
xb_unit_test(test_amount SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_amount.c LIBS xb_iso20022)

# Money must never meet binary floating point: fail if amount.c so much as names the types.
add_test(NAME amount_no_float
         COMMAND sh -c "! grep -nwE 'float|double|long double|strtod|atof' \"$0\""
                 ${CMAKE_SOURCE_DIR}/iso20022/amount.c)
set_tests_properties(amount_no_float PROPERTIES LABELS unit)
