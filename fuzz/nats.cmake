# NATS client protocol: parser (whole vs split feeds), header blocks, INFO JSON reader.
if(TARGET asx_messaging)
  asx_fuzz(fuzz_nats_proto SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_nats_proto.c LIBS asx_messaging)
endif()
