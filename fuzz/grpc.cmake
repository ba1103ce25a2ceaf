# gRPC harness: the length-prefixed message decoder (whole vs split input) and trailer helpers.
if(TARGET asx_grpc)
  asx_fuzz(fuzz_grpc_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grpc_frame.c LIBS asx_grpc)
endif()

# Workaround until fuzz/driver_main.c is fixed (MAX_INPUT collides with <linux/limits.h>).
if(TARGET fuzz_grpc_frame)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<IN_LIST:$<TARGET_PROPERTY:NAME>,fuzz_grpc_frame>:-Wno-error>")
endif()
