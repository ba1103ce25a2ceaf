# HTTP/1.1 decoder harnesses (http1/): each input is decoded whole and split in two at a
# position derived from the input; both must give the same events (else abort()).
if(TARGET asx_http1)
  asx_fuzz(fuzz_http1_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http1_request.c LIBS asx_http1)
  asx_fuzz(fuzz_http1_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http1_response.c LIBS asx_http1)
endif()
