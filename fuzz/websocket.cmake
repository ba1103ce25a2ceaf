# WebSocket harnesses (websocket/): the frame/message session in both roles with and without
# permessage-deflate, and the handshake/extension-negotiation parsers.
if(TARGET asx_websocket)
  asx_fuzz(fuzz_websocket_frames SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_websocket_frames.c
    LIBS asx_websocket)
  asx_fuzz(fuzz_websocket_handshake SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_websocket_handshake.c
    LIBS asx_websocket)
endif()
# The client's check of a server's 101 answer (the WebSocket client glue runs it).
if(TARGET asx_websocket)
  asx_fuzz(fuzz_websocket_client_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_websocket_client_response.c
    LIBS asx_websocket)
endif()
