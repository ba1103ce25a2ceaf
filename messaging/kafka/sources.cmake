# Kafka wire protocol codec, appended to the shared asx_messaging library (messaging/CMakeLists.txt).
list(APPEND ASX_MESSAGING_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_reader.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_writer.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_crc32c.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_decoder.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_header.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_framer.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_tracker.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_compress.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_record_batch.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_api_versions.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_metadata.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_produce.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_fetch.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_list_offsets.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_find_coordinator.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_offset_commit.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_offset_fetch.c
  ${CMAKE_CURRENT_LIST_DIR}/src/kafka_response.c)
find_package(ZLIB REQUIRED)
pkg_check_modules(ASX_KAFKA_LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(ASX_KAFKA_ZSTD REQUIRED IMPORTED_TARGET libzstd)
list(APPEND ASX_MESSAGING_PRIVATE_LIBS ZLIB::ZLIB PkgConfig::ASX_KAFKA_LZ4 PkgConfig::ASX_KAFKA_ZSTD)
list(APPEND ASX_MESSAGING_PC_LIBS -lz -llz4 -lzstd)
