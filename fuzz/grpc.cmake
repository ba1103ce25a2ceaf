# gRPC harness: the length-prefixed message decoder (whole vs split input) and trailer helpers.
if(TARGET asx_grpc)
  asx_fuzz(fuzz_grpc_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grpc_frame.c LIBS asx_grpc)
endif()

# Workaround for the original fuzz/driver_main.c, whose MAX_INPUT macro collides with
# <linux/limits.h> under _GNU_SOURCE (fatal with -Werror). It applies only while that macro is
# still there (main renamed it FUZZ_MAX_INPUT), and only to these harnesses.
file(STRINGS ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c _asx_fuzz_grpc_frame_old_driver REGEX "^#define MAX_INPUT ")
if(_asx_fuzz_grpc_frame_old_driver AND TARGET fuzz_grpc_frame)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<IN_LIST:$<TARGET_PROPERTY:NAME>,fuzz_grpc_frame>:-Wno-error>")
endif()
