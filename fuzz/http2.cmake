# HTTP/2 harnesses: the asx server session on arbitrary frames, and nghttp2's HPACK inflater
# under the asx header limits.
if(TARGET asx_http2)
  pkg_check_modules(ASX_FUZZ_NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
  asx_fuzz(fuzz_http2_frames SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http2_frames.c
    LIBS asx_http2)
  asx_fuzz(fuzz_hpack SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_hpack.c
    LIBS PkgConfig::ASX_FUZZ_NGHTTP2)
endif()

# Workaround for the original fuzz/driver_main.c, whose MAX_INPUT macro collides with
# <linux/limits.h> under _GNU_SOURCE (fatal with -Werror). It applies only while that macro is
# still there (main renamed it FUZZ_MAX_INPUT), and only to these harnesses.
file(STRINGS ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c _asx_fuzz_http2_frames_old_driver REGEX "^#define MAX_INPUT ")
if(_asx_fuzz_http2_frames_old_driver AND TARGET fuzz_http2_frames)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<IN_LIST:$<TARGET_PROPERTY:NAME>,fuzz_http2_frames;fuzz_hpack>:-Wno-error>")
endif()
