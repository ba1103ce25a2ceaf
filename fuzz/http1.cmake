# HTTP/1.1 decoder harnesses (http1/): each input is decoded whole and split in two at a
# position derived from the input; both must give the same events (else abort()).
if(TARGET asx_http1)
  asx_fuzz(fuzz_http1_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http1_request.c LIBS asx_http1)
  asx_fuzz(fuzz_http1_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http1_response.c LIBS asx_http1)
endif()

# Workaround, to drop once fuzz/driver_main.c is fixed: its MAX_INPUT macro collides with
# <linux/limits.h> (pulled in under _GNU_SOURCE), a default-on warning that -Werror turns into
# a build failure. Relax -Werror for that one file, and only inside the http1 harnesses.
if(TARGET fuzz_http1_request)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c APPEND PROPERTY COMPILE_OPTIONS
    "$<$<IN_LIST:$<TARGET_PROPERTY:NAME>,fuzz_http1_request;fuzz_http1_response>:-Wno-error>")
endif()
