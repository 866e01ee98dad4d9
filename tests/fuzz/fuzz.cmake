# fuzz.cmake — libFuzzer harnesses of the iso20022 library (XB_FUZZ=ON, clang only).
#   CC=clang cmake -S . -B build-fuzz -DXB_FUZZ=ON && cmake --build build-fuzz --target fuzz_parse
#   ctest --test-dir build-fuzz -R fuzz_parse   # runs ~30 s over tests/fuzz/corpus/parse
# New inputs go to a corpus folder in the build tree; the committed seed corpus is never changed.
if(XB_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "XB_FUZZ needs clang (CC=clang)")
  endif()
  # coverage instrumentation for the library under test
  target_compile_options(xb_iso20022 PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  add_executable(fuzz_parse ${CMAKE_CURRENT_LIST_DIR}/fuzz_parse.c)
  target_include_directories(fuzz_parse PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(fuzz_parse PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_parse PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_parse PRIVATE xb_iso20022)
  set(XB_FUZZ_WORK ${CMAKE_BINARY_DIR}/fuzz-corpus/parse)
  file(MAKE_DIRECTORY ${XB_FUZZ_WORK})
  add_test(NAME fuzz_parse
           COMMAND fuzz_parse -max_total_time=30 -max_len=65536 -rss_limit_mb=2048 -timeout=10
                   ${XB_FUZZ_WORK} ${CMAKE_CURRENT_LIST_DIR}/corpus/parse)
  set_tests_properties(fuzz_parse PROPERTIES LABELS fuzz TIMEOUT 120)
endif()
