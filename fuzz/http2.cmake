# HTTP/2 harnesses: the asx server session on arbitrary frames, and nghttp2's HPACK inflater
# under the asx header limits.
if(TARGET asx_http2)
  pkg_check_modules(ASX_FUZZ_NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
  asx_fuzz(fuzz_http2_frames SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http2_frames.c
    LIBS asx_http2)
  asx_fuzz(fuzz_hpack SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_hpack.c
    LIBS PkgConfig::ASX_FUZZ_NGHTTP2)
endif()
