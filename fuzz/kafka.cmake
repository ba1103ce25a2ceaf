# Kafka wire protocol harnesses (messaging/kafka).
asx_fuzz(fuzz_kafka_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_kafka_response.c
         LIBS asx_messaging)
asx_fuzz(fuzz_kafka_record_batch SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_kafka_record_batch.c
         LIBS asx_messaging)
