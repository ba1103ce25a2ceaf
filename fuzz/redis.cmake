# Redis RESP2/RESP3 harness: reply decoder (trees and events) and server-side command decoder.
if(TARGET asx_messaging)
  asx_fuzz(fuzz_redis_resp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_redis_resp.c
    ${PROJECT_SOURCE_DIR}/tests/redis/redis_test_util.c LIBS asx_messaging)
  target_include_directories(fuzz_redis_resp PRIVATE ${PROJECT_SOURCE_DIR}/tests/redis)
endif()
