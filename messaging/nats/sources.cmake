# NATS client protocol codec: parser, encoders, header blocks, subject rules, INFO JSON reader.
list(APPEND ASX_MESSAGING_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_parser.c
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_headers.c
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_subject.c
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_encode.c
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_json.c
  ${CMAKE_CURRENT_LIST_DIR}/src/nats_info.c)
