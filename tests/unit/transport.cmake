# HTTPS transport (issue #4): HTTP message signatures (RFC 9421/9530), idempotency keys.
# Compiles the transport's own sources directly so another area's half-written file cannot
# stop these tests from building.
set(XB_NET_UNIT_LIBS xb_iso20022 PkgConfig::OPENSSL)
xb_unit_test(test_httpsig SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_httpsig.c
             ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c LIBS ${XB_NET_UNIT_LIBS})
