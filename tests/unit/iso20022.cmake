# iso20022.cmake — unit tests of the iso20022 message library (issue #2).
# Each test_iso_<name>.c is one cmocka program; the public samples folder is optional (CI has it).
set(XB_ISO_SAMPLES "${CMAKE_SOURCE_DIR}/../shared/iso20022/samples")
set(XB_ISO_TESTS message hostile schema rules keys write samples)
foreach(t ${XB_ISO_TESTS})
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_iso_${t}.c)
    xb_unit_test(test_iso_${t}
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_iso_${t}.c ${CMAKE_CURRENT_LIST_DIR}/test_iso_util.c
                 LIBS xb_iso20022)
    target_compile_definitions(test_iso_${t} PRIVATE XB_ISO_SAMPLES="${XB_ISO_SAMPLES}"
                               XB_SCHEMA_DIR_DEFAULT="${XB_SCHEMA_DIR_DEFAULT}")
  endif()
endforeach()

# The reference tool agrees with us about every valid fixture.
find_program(XB_XMLLINT xmllint)
if(XB_XMLLINT)
  add_test(NAME iso_xmllint_fixtures
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/iso_xmllint_fixtures.sh
                   ${XB_SCHEMA_DIR_DEFAULT} ${CMAKE_SOURCE_DIR}/fixtures/messages/valid)
  set_tests_properties(iso_xmllint_fixtures PROPERTIES LABELS unit TIMEOUT 120)
endif()

# `xborder validate` over the public samples: exit codes and one line per file.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/iso_validate_cli.sh)
  add_test(NAME iso_validate_cli
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/iso_validate_cli.sh $<TARGET_FILE:xborder>
                   ${XB_ISO_SAMPLES} ${CMAKE_SOURCE_DIR}/fixtures/messages)
  set_tests_properties(iso_validate_cli PROPERTIES LABELS unit TIMEOUT 120)
endif()
