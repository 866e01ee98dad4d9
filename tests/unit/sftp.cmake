# SFTP batch delivery (issue #12): the batch container, manifest and signature, the sink's
# options and its spool recovery. No server here: tests/integration/sftp.cmake runs a real sshd.
# Sources are compiled directly so another area's half-written file cannot break these tests.
set(XB_SFTP_SOURCES ${CMAKE_SOURCE_DIR}/adapter/transport/batch_file.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp.c ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c
    ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c
    ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c ${CMAKE_SOURCE_DIR}/adapter/log.c)
set(XB_SFTP_LIBS xb_iso20022 PkgConfig::CURL PkgConfig::OPENSSL PkgConfig::JANSSON PkgConfig::YAML
    PkgConfig::LIBXML2 Threads::Threads)
xb_unit_test(test_sftp_batch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sftp_batch.c ${XB_SFTP_SOURCES}
             LIBS ${XB_SFTP_LIBS})
xb_unit_test(test_sftp_sink SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sftp_sink.c ${XB_SFTP_SOURCES}
             LIBS ${XB_SFTP_LIBS})
# `type: sftp` destinations through the config loader (adapter/config.c calls the sink's parser).
xb_unit_test(test_sftp_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sftp_config.c
             ${CMAKE_SOURCE_DIR}/adapter/config.c ${CMAKE_SOURCE_DIR}/adapter/log.c
             ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c
             ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c
             LIBS xb_iso20022 PkgConfig::JANSSON PkgConfig::OPENSSL PkgConfig::YAML
             PkgConfig::RDKAFKA Threads::Threads)
