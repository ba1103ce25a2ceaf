# Shared build helpers: every module, test, fuzz harness and benchmark goes through these so that
# warnings, sanitizers, install rules and test registration stay uniform.

function(asx_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wformat=2 -Wundef -Wstrict-prototypes)
  if(ASX_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# asx_module_library(<target> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...] [PC_LIBS ...])
# A static (or shared, with BUILD_SHARED_LIBS) library whose public headers live in
# <module>/include. PC_LIBS are extra linker flags for asx.pc (e.g. -lnghttp2).
function(asx_module_library target)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS;PC_LIBS" ${ARGN})
  add_library(${target} ${M_SOURCES})
  add_library(asx::${target} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${M_PUBLIC_LIBS} PRIVATE ${M_PRIVATE_LIBS})
  asx_warnings(${target})
  set_property(GLOBAL APPEND PROPERTY ASX_MODULE_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY ASX_PC_EXTRA_LIBS ${M_PC_LIBS})
  install(TARGETS ${target} EXPORT asxTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endfunction()

# asx_test(<name> SOURCES ... [LIBS ...] [TIMEOUT seconds] [BOTH_REACTOR_MODES])
# A Criterion test binary registered with CTest. Every test also carries a Criterion .timeout;
# the CTest TIMEOUT is the outer bound so a deadlock fails fast instead of hanging CI.
# BOTH_REACTOR_MODES also registers <name>_oneshot: the same binary with ASX_REACTOR=oneshot
# (the default reactor mode is edge).
function(asx_test name)
  cmake_parse_arguments(T "BOTH_REACTOR_MODES" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 180)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE asx_test_common ${T_LIBS})
  asx_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} --jobs=2)
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_BOTH_REACTOR_MODES)
    # Socket suites run again with the oneshot reactor (ASX_REACTOR, see docs/net.md).
    add_test(NAME ${name}_oneshot COMMAND ${name} --jobs=2)
    set_tests_properties(${name}_oneshot PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT ASX_REACTOR=oneshot)
  endif()
endfunction()

# asx_fuzz(<target> SOURCES ... [LIBS ...])
# One harness defining LLVMFuzzerTestOneInput. Built as:
#  - CC=afl-cc/afl-clang-fast: an AFL++ persistent-mode binary (fuzz/driver_main.c);
#  - ASX_FUZZ_LIBFUZZER=ON: a libFuzzer binary (-fsanitize=fuzzer);
#  - otherwise: a plain binary that replays files/directories given on the command line.
# When fuzz/corpus/<target> exists, CTest replays the whole seed corpus through it.
function(asx_fuzz target)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  if(ASX_FUZZ_LIBFUZZER)
    add_executable(${target} ${F_SOURCES})
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${target} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c)
  endif()
  target_link_libraries(${target} PRIVATE ${F_LIBS})
  asx_warnings(${target})
  set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${target})
  if(EXISTS ${corpus} AND NOT ASX_FUZZ_LIBFUZZER)
    add_test(NAME corpus_${target} COMMAND ${target} ${corpus})
    set_tests_properties(corpus_${target} PROPERTIES TIMEOUT 120)
  endif()
endfunction()
