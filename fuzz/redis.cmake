# Redis RESP2/RESP3 harness: reply decoder (trees and events) and server-side command decoder.
if(TARGET asx_messaging)
  asx_fuzz(fuzz_redis_resp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_redis_resp.c
    ${PROJECT_SOURCE_DIR}/tests/redis/redis_test_util.c LIBS asx_messaging)
  target_include_directories(fuzz_redis_resp PRIVATE ${PROJECT_SOURCE_DIR}/tests/redis)
endif()

# Workaround, to drop once fuzz/driver_main.c is fixed: its MAX_INPUT macro collides with
# <linux/limits.h> (pulled in under _GNU_SOURCE), a default-on warning that -Werror turns into a
# build failure. Relax -Werror for that one file, and only inside this harness.
if(TARGET fuzz_redis_resp)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<STREQUAL:$<TARGET_PROPERTY:NAME>,fuzz_redis_resp>:-Wno-error>")
endif()
