# Operations (issue #11): observability files, --version, man pages and help, actionable errors,
# progress output. Label unit; fast (no network).
xb_unit_test(test_ops_observability SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_observability.c
             LIBS xb_adapter)
xb_unit_test(test_ops_progress SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_progress.c LIBS xb_adapter)
add_test(NAME test_ops_errors COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_ops_errors.sh
         $<TARGET_FILE:xborder> ${CMAKE_SOURCE_DIR})
set_tests_properties(test_ops_errors PROPERTIES LABELS unit TIMEOUT 120)
add_test(NAME test_ops_help COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_ops_help.sh
         $<TARGET_FILE:xborder> ${CMAKE_SOURCE_DIR} $<IF:$<BOOL:${XB_WITH_JEMALLOC}>,jemalloc,libc>)
set_tests_properties(test_ops_help PROPERTIES LABELS unit TIMEOUT 120)
xb_unit_test(test_ops_version SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_version.c LIBS xb_adapter)
