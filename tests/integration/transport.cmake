# HTTPS transport integration tests (issue #4): the real receiver (libmicrohttpd + GnuTLS) over
# mutual TLS on loopback, a test PKI made by tests/env/pki, and the libcurl sink.
# Self-contained: each test program makes its PKI, starts/stops its receiver processes and
# cleans up. Sources are compiled directly so another area's half-written file cannot break them.
# The receiver's optional shared dedupe store (--dedupe-store, issue #10) lives in adapter/state.
set(XB_NET_SOURCES ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/sink_http.c ${CMAKE_SOURCE_DIR}/adapter/transport/receiver.c
    ${CMAKE_SOURCE_DIR}/adapter/state/store.c ${CMAKE_SOURCE_DIR}/adapter/state/store_sqlite.c
    ${CMAKE_SOURCE_DIR}/adapter/state/store_pg.c ${CMAKE_SOURCE_DIR}/adapter/log.c)
set(XB_NET_LIBS xb_policy xb_iso20022 PkgConfig::CURL PkgConfig::MHD PkgConfig::GNUTLS
    PkgConfig::SQLITE PkgConfig::PQ PkgConfig::JANSSON PkgConfig::OPENSSL PkgConfig::LIBXML2
    Threads::Threads m)

add_executable(xb_test_receiver ${CMAKE_CURRENT_LIST_DIR}/rx_main.c ${XB_NET_SOURCES}
               ${CMAKE_SOURCE_DIR}/adapter/cli/receive.c ${CMAKE_SOURCE_DIR}/adapter/cli/common.c)
target_include_directories(xb_test_receiver PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(xb_test_receiver PRIVATE ${XB_NET_LIBS})

function(xb_transport_test name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c
                 ${CMAKE_CURRENT_LIST_DIR}/transport_harness.c ${XB_NET_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE XB_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                             XB_FIXTURES="${CMAKE_SOURCE_DIR}/fixtures"
                             XB_RECEIVER_BIN="$<TARGET_FILE:xb_test_receiver>")
  target_link_libraries(${name} PRIVATE ${XB_NET_LIBS} PkgConfig::CMOCKA)
  add_dependencies(${name} xb_test_receiver)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 240
                       ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
endfunction()

file(GLOB XB_TRANSPORT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_transport_*.c)
foreach(t ${XB_TRANSPORT_TESTS})
  get_filename_component(n ${t} NAME_WE)
  xb_transport_test(${n})
endforeach()
