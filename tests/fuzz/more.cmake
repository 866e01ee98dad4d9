# more.cmake — libFuzzer harnesses of the adapter (issue #9): catalog loader, config loader,
# free-text detectors, receiver request handling. XB_FUZZ=ON, clang only (see fuzz.cmake).
#   CC=clang cmake -S . -B build-fuzz -DXB_FUZZ=ON && cmake --build build-fuzz
#   ctest --test-dir build-fuzz -L fuzz            # ~20 s each over tests/fuzz/corpus/<name>
#   tests/fuzz/run-long [SECONDS] BUILD-DIR        # the long local runs, corpora minimised back
# New inputs go to a corpus folder in the build tree; the committed corpora change only through
# run-long's -merge=1.
if(XB_FUZZ)
  target_compile_options(xb_policy PRIVATE -fsanitize=fuzzer-no-link,address,undefined)

  function(xb_fuzz_target name)
    cmake_parse_arguments(F "" "MAXLEN" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${F_SOURCES})
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    string(REPLACE "fuzz_" "" short ${name})
    set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${short})
    file(MAKE_DIRECTORY ${work})
    add_test(NAME ${name}
             COMMAND ${name} -max_total_time=20 -max_len=${F_MAXLEN} -rss_limit_mb=2048 -timeout=10
                     ${work} ${CMAKE_CURRENT_LIST_DIR}/corpus/${short})
    set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
  endfunction()

  # xb_policy reads YAML through adapter/yaml_tree.c (part of xb_adapter): compiled in here so
  # the harnesses need only the code under test, not the whole program.
  set(yaml ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c)
  xb_fuzz_target(fuzz_catalog MAXLEN 65536 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_catalog.c ${yaml}
                 LIBS xb_policy)
  xb_fuzz_target(fuzz_config MAXLEN 16384
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c ${CMAKE_SOURCE_DIR}/adapter/config.c ${yaml}
                         ${CMAKE_SOURCE_DIR}/adapter/transport/sink_sftp_opts.c ${CMAKE_SOURCE_DIR}/adapter/log.c
                 LIBS xb_policy PkgConfig::RDKAFKA)
  xb_fuzz_target(fuzz_detect MAXLEN 8192 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_detect.c ${yaml}
                 LIBS xb_policy)
  xb_fuzz_target(fuzz_receiver MAXLEN 65536
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_receiver.c ${CMAKE_SOURCE_DIR}/adapter/transport/httpsig.c
                         ${CMAKE_SOURCE_DIR}/adapter/state/store.c ${CMAKE_SOURCE_DIR}/adapter/state/store_sqlite.c
                         ${CMAKE_SOURCE_DIR}/adapter/state/store_pg.c ${CMAKE_SOURCE_DIR}/adapter/log.c
                         ${CMAKE_SOURCE_DIR}/adapter/yaml_tree.c
                 LIBS xb_iso20022 xb_policy PkgConfig::MHD PkgConfig::GNUTLS PkgConfig::SQLITE PkgConfig::JANSSON
                      PkgConfig::PQ PkgConfig::YAML PkgConfig::OPENSSL PkgConfig::LIBXML2 Threads::Threads)
  # issue #8: settlement reads and rewrites the policy's tree before anything validated it
  xb_fuzz_target(fuzz_settle MAXLEN 32768
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_settle.c ${CMAKE_SOURCE_DIR}/adapter/settle.c
                         ${CMAKE_SOURCE_DIR}/adapter/settle_opts.c ${yaml}
                 LIBS xb_policy xb_valuation xb_iso20022 PkgConfig::JANSSON PkgConfig::YAML)
endif()
