# gRPC harness: the length-prefixed message decoder (whole vs split input) and trailer helpers.
if(TARGET asx_grpc)
  asx_fuzz(fuzz_grpc_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grpc_frame.c LIBS asx_grpc)
endif()
# grpc-encoding: gzip/deflate decompression of untrusted messages, bounded by a limit.
if(TARGET asx_grpc)
  asx_fuzz(fuzz_grpc_decompress SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grpc_decompress.c LIBS asx_grpc)
endif()
# "-bin" metadata (base64) and the grpc.health.v1 request parser.
if(TARGET asx_grpc)
  asx_fuzz(fuzz_grpc_meta SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grpc_meta.c LIBS asx_grpc)
endif()
