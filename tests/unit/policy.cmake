# Data-classification engine (issue #3): adapter/policy, the subject counters in adapter/state/store,
# and `xborder classify`. The tests link xb_policy and compile yaml_tree.c / store.c directly, so
# another area's half-written file cannot stop them from building.
set(XB_POL_LIBS xb_policy xb_iso20022 PkgConfig::YAML PkgConfig::JANSSON PkgConfig::OPENSSL)
set(XB_POL_YAML ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
xb_unit_test(test_pol_detect SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pol_detect.c LIBS ${XB_POL_LIBS})
xb_unit_test(test_pol_catalog SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pol_catalog.c ${XB_POL_YAML}
             LIBS ${XB_POL_LIBS})
xb_unit_test(test_pol_decide SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pol_decide.c ${XB_POL_YAML}
             LIBS ${XB_POL_LIBS})
xb_unit_test(test_pol_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pol_store.c ${XB_POL_YAML}
             ${CMAKE_SOURCE_DIR}/adapter/state/store.c ${CMAKE_SOURCE_DIR}/adapter/state/store_sqlite.c
             ${CMAKE_SOURCE_DIR}/adapter/state/store_pg.c ${CMAKE_SOURCE_DIR}/adapter/log.c
             LIBS ${XB_POL_LIBS} PkgConfig::SQLITE PkgConfig::PQ Threads::Threads)

# CLI exit codes: a shell test against the real binary.
add_test(NAME test_pol_cli COMMAND ${CMAKE_CURRENT_LIST_DIR}/test_pol_cli.sh $<TARGET_FILE:xborder>
         ${CMAKE_SOURCE_DIR})
set_tests_properties(test_pol_cli PROPERTIES LABELS unit TIMEOUT 120)
