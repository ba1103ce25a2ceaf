# Redis RESP2/RESP3 codec, part of asx_messaging (see messaging/CMakeLists.txt).
list(APPEND ASX_MESSAGING_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_number.c
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_reader.c
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_tree.c
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_encode.c
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_command.c
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_inline.c)
