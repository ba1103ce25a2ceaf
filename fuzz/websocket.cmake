# WebSocket harnesses (websocket/): the frame/message session in both roles with and without
# permessage-deflate, and the handshake/extension-negotiation parsers.
if(TARGET asx_websocket)
  asx_fuzz(fuzz_websocket_frames SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_websocket_frames.c
    LIBS asx_websocket)
  asx_fuzz(fuzz_websocket_handshake SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_websocket_handshake.c
    LIBS asx_websocket)
endif()

# Workaround until fuzz/driver_main.c is fixed (same as fuzz/http1.cmake): its MAX_INPUT macro
# collides with <linux/limits.h> under _GNU_SOURCE, which -Werror turns into a build failure.
# Relax -Werror for that one file, only inside the websocket harnesses.
if(TARGET fuzz_websocket_frames)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<IN_LIST:$<TARGET_PROPERTY:NAME>,fuzz_websocket_frames;fuzz_websocket_handshake>:-Wno-error>")
endif()
